//! Chart data drawn from a scan and its analysis, and its SVG rendering.
//!
//! Two charts: a *timeline* per OS version line (`major.minor`: revision of each
//! component over release dates, with the NT 6.x track windows shaded, the window
//! ceilings drawn and the build moves marked with the KB that moved first) and a
//! *headroom* chart (the component versions closest to their ceiling, as bars).
//!
//! The data extraction ([`timelines`], [`headroom`]) is separate from the drawing so it
//! can be tested without parsing SVG. Drawing uses `plotters`' SVG backend without the
//! `ttf` feature: text is written as SVG `<text>` (no font files, no fontconfig), and the
//! backend escapes `<`, `>`, `&`, `"` and `'` in every text and attribute. Labels that
//! come from packages also go through [`printable`] first, so control characters are
//! shown as `\u{…}` rather than written raw. Output is a pure function of the input:
//! ordered maps only, no clock.

use crate::error::RenderError;
use crate::format::printable;
use kbscan_analysis::date::Date;
use kbscan_analysis::{Analysis, CeilingRules, VersionKind};
use kbscan_model::ScanReport;
use kbscan_version::{Nt6Revision, Track, Version, NT6_COUNTER_MAX};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::{BTreeMap, BTreeSet};

/// Series drawn per timeline; the others are counted in [`Timeline::omitted`].
pub const MAX_SERIES: usize = 12;
/// Bars in the headroom chart.
pub const MAX_BARS: usize = 15;

/// The common prefix of Windows component names, left out of chart labels for room.
const NAME_PREFIX: &str = "microsoft-windows-";

/// A shaded band of revisions: an NT 6.x track window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// e.g. `LDR`.
    pub track: String,
    pub floor: u16,
    pub ceiling: u16,
    /// Whether any plotted version lies in it (its ceiling is then drawn as a line).
    pub used: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineSeries {
    /// Component name (printable, without the `microsoft-windows-` prefix), plus the
    /// track when the component ships on several.
    pub label: String,
    /// (days since 1970-01-01, highest revision that day), by date.
    pub points: Vec<(i64, u16)>,
}

/// A build move drawn on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MoveMark {
    pub day: i64,
    /// The first mover (KB, else source), printable.
    pub kb: String,
    pub from: String,
    pub to: String,
    /// Platforms it moved, e.g. `amd64, x86`.
    pub platforms: String,
}

/// One OS version line's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// `major.minor`, e.g. `6.0`; also the chart's file and element id suffix.
    pub family: String,
    /// Every `major.minor.build` plotted, ascending.
    pub builds: Vec<String>,
    /// The track windows covering the plotted revisions (empty for a plain rule).
    pub bands: Vec<Band>,
    /// Ceiling lines for a plain rule (the rule's ceiling) when it is near the data.
    pub plain_ceiling: Option<u16>,
    pub series: Vec<TimelineSeries>,
    /// Components not drawn (beyond [`MAX_SERIES`], the ones furthest from a ceiling).
    pub omitted: usize,
    pub moves: Vec<MoveMark>,
    /// Per build: (build, first day, last day, lowest and highest revision plotted),
    /// so each build's stretch of the chart is labelled.
    pub spans: Vec<BuildSpan>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSpan {
    pub build: String,
    pub first_day: i64,
    pub last_day: i64,
    pub min_revision: u16,
    pub max_revision: u16,
}

impl Timeline {
    /// Stable identifier: `timeline-6.0`.
    pub fn id(&self) -> String {
        format!("timeline-{}", self.family)
    }

    fn days(&self) -> (i64, i64) {
        let all = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(self.moves.iter().map(|m| m.day));
        let (lo, hi) = all.fold((i64::MAX, i64::MIN), |(a, b), d| (a.min(d), b.max(d)));
        if lo > hi {
            return (0, 1);
        }
        let pad = ((hi - lo) / 20).max(7);
        (lo - pad, hi + pad)
    }

    fn revisions(&self) -> (i32, i32) {
        if let (Some(f), Some(l)) = (self.bands.first(), self.bands.last()) {
            let span = i32::from(l.ceiling) - i32::from(f.floor);
            let pad = (span / 25).max(20);
            return (i32::from(f.floor) - pad, i32::from(l.ceiling) + pad);
        }
        let vals = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| i32::from(p.1)))
            .chain(self.plain_ceiling.map(i32::from));
        let (lo, hi) = vals.fold((i32::MAX, i32::MIN), |(a, b), v| (a.min(v), b.max(v)));
        if lo > hi {
            return (0, 1);
        }
        let pad = ((hi - lo) / 10).max(10);
        ((lo - pad).max(0), hi + pad)
    }
}

/// A bar of the headroom chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// `name arch version track`, printable.
    pub label: String,
    /// Values left (counter values for NT 6.x, revisions for a plain rule).
    pub headroom: i32,
    pub close: bool,
}

fn short_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let n = lower.strip_prefix(NAME_PREFIX).unwrap_or(&lower);
    printable(n)
}

fn rules_of(a: &Analysis) -> CeilingRules {
    CeilingRules {
        close: a.ceilings.close,
        rules: a.ceilings.rules.clone(),
    }
}

fn track_name(t: Track) -> String {
    t.to_string()
}

/// The timelines of every OS version line with dated, versioned components, by family.
pub fn timelines(scan: &ScanReport, a: &Analysis) -> Vec<Timeline> {
    let rules = rules_of(a);
    // family -> (component name, track) -> day -> max revision
    type Key = (String, Option<Track>);
    let mut fam: BTreeMap<(u16, u16), BTreeMap<Key, BTreeMap<i64, u16>>> = BTreeMap::new();
    let mut builds: BTreeMap<(u16, u16), BTreeSet<Version>> = BTreeMap::new();
    let mut windows: BTreeMap<(u16, u16), BTreeSet<(u16, u16)>> = BTreeMap::new();
    let mut plain: BTreeMap<(u16, u16), u16> = BTreeMap::new();
    // build -> (first day, last day, lowest revision, highest revision)
    type Span = (i64, i64, u16, u16);
    let mut spans: BTreeMap<(u16, u16), BTreeMap<u16, Span>> = BTreeMap::new();
    for p in &scan.packages {
        let Some(day) = p.dates.release.as_deref().and_then(Date::parse) else {
            continue;
        };
        let day = day.days();
        for c in &p.components {
            let Some(v) = c.version else { continue };
            let line = (v.major, v.minor);
            let m = rules.measure(v);
            let track = m.nt6.map(|n| n.track);
            match m.nt6 {
                Some(n) => {
                    windows
                        .entry(line)
                        .or_default()
                        .insert((n.window_floor, n.window_ceiling));
                }
                None => {
                    plain.entry(line).or_insert(m.ceiling);
                }
            }
            builds
                .entry(line)
                .or_default()
                .insert(Version::new(v.major, v.minor, v.build, 0));
            let span = spans
                .entry(line)
                .or_default()
                .entry(v.build)
                .or_insert((day, day, v.revision, v.revision));
            *span = (
                span.0.min(day),
                span.1.max(day),
                span.2.min(v.revision),
                span.3.max(v.revision),
            );
            let rev = fam
                .entry(line)
                .or_default()
                .entry((c.name.to_ascii_lowercase(), track))
                .or_default()
                .entry(day)
                .or_insert(0);
            *rev = (*rev).max(v.revision);
        }
    }
    let mut out = Vec::new();
    for (line, comps) in fam {
        let family = format!("{}.{}", line.0, line.1);
        let used = windows.remove(&line).unwrap_or_default();
        let bands = bands_between(&used);
        let tracks_per_name: BTreeMap<&str, usize> =
            comps.keys().fold(BTreeMap::new(), |mut m, (n, _)| {
                *m.entry(n.as_str()).or_insert(0) += 1;
                m
            });
        let mut series: Vec<(u16, TimelineSeries)> = comps
            .iter()
            .map(|((name, track), days)| {
                let mut label = short_name(name);
                if tracks_per_name.get(name.as_str()).copied().unwrap_or(0) > 1 {
                    if let Some(t) = track {
                        label.push_str(&format!(" ({t})"));
                    }
                }
                // The closer a series gets to its window top, the more it matters.
                let top = days
                    .values()
                    .map(|r| Nt6Revision::decode(*r).counter)
                    .max()
                    .unwrap_or(0);
                let s = TimelineSeries {
                    label,
                    points: days.iter().map(|(d, r)| (*d, *r)).collect(),
                };
                (if track.is_some() { top } else { 0 }, s)
            })
            .collect();
        // Keep the series that come closest to a ceiling; order the kept ones by label.
        series.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.label.cmp(&b.1.label)));
        let omitted = series.len().saturating_sub(MAX_SERIES);
        series.truncate(MAX_SERIES);
        let mut series: Vec<TimelineSeries> = series.into_iter().map(|(_, s)| s).collect();
        series.sort_by(|a, b| a.label.cmp(&b.label));
        let mut moves: BTreeMap<(i64, String, String, String), BTreeSet<String>> = BTreeMap::new();
        for m in a.moves.iter().filter(|m| m.os == family) {
            let p = &m.first_mover.package;
            let Some(day) = p.date.as_deref().and_then(Date::parse) else {
                continue;
            };
            moves
                .entry((
                    day.days(),
                    printable(&p.label()),
                    m.from.to_string(),
                    m.to.to_string(),
                ))
                .or_default()
                .insert(printable(&m.platform));
        }
        let moves = moves
            .into_iter()
            .map(|((day, kb, from, to), platforms)| MoveMark {
                day,
                kb,
                from,
                to,
                platforms: platforms.into_iter().collect::<Vec<_>>().join(", "),
            })
            .collect();
        let plain_ceiling = if bands.is_empty() {
            let max = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .max()
                .unwrap_or(0);
            // Drawn only when it is within reach of the data, else it flattens the chart.
            plain
                .get(&line)
                .copied()
                .filter(|c| u32::from(*c) <= u32::from(max) * 2)
        } else {
            None
        };
        let spans = spans
            .remove(&line)
            .unwrap_or_default()
            .into_iter()
            .map(|(b, (f, l, lo, hi))| BuildSpan {
                build: format!("{}.{}.{b}", line.0, line.1),
                first_day: f,
                last_day: l,
                min_revision: lo,
                max_revision: hi,
            })
            .collect();
        out.push(Timeline {
            spans,
            family,
            builds: builds
                .remove(&line)
                .unwrap_or_default()
                .iter()
                .map(|v| v.os_build().to_string())
                .collect(),
            bands,
            plain_ceiling,
            series,
            omitted,
            moves,
        });
    }
    out
}

/// Every track window from the lowest to the highest one in use, so a gap between GDR
/// and LDR (say) is shaded too and the axis reads continuously.
fn bands_between(used: &BTreeSet<(u16, u16)>) -> Vec<Band> {
    let (Some(lo), Some(hi)) = (used.first(), used.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut floor = u32::from(lo.0);
    while floor <= u32::from(hi.0) {
        let f = floor as u16;
        let d = Nt6Revision::decode(f);
        out.push(Band {
            track: track_name(d.track),
            floor: d.window_floor(),
            ceiling: d.window_ceiling(),
            used: used.iter().any(|u| u.0 == f),
        });
        floor += u32::from(NT6_COUNTER_MAX) + 1;
    }
    out
}

/// The component versions closest to their ceiling, one bar per component, build and
/// track (its closest version), closest first.
pub fn headroom(a: &Analysis) -> Vec<Bar> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    // Findings are already closest first.
    for f in a
        .ceilings
        .findings
        .iter()
        .filter(|f| f.kind == VersionKind::Component)
    {
        let key = (
            f.name.to_ascii_lowercase(),
            f.architectures.join(","),
            f.version.os_build(),
            f.nt6.map(|n| n.track),
        );
        if !seen.insert(key) {
            continue;
        }
        let track = f
            .nt6
            .map_or_else(|| "rev".to_string(), |n| track_name(n.track));
        out.push(Bar {
            label: cut(
                &format!(
                    "{} {} {} {}",
                    short_name(&f.name),
                    printable(&f.architectures.join(",")),
                    f.version,
                    track
                ),
                60,
            ),
            headroom: f.headroom,
            close: f.close,
        });
        if out.len() == MAX_BARS {
            break;
        }
    }
    out
}

/// Shortens `s` to `w` characters by cutting its middle.
fn cut(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    let head = (w - 1) / 2;
    let tail = w - 1 - head;
    let mut r: String = s.chars().take(head).collect();
    r.push('…');
    r.extend(s.chars().skip(n - tail));
    r
}

fn chart_err<E: std::fmt::Display>(e: E) -> RenderError {
    RenderError::Chart(e.to_string())
}

/// Colour-blind friendly, distinguishable on white and in greyscale print (Okabe–Ito,
/// then Tableau).
const PALETTE: [RGBColor; 12] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(148, 103, 189),
    RGBColor(60, 60, 60),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const BAND_COLOURS: [RGBColor; 4] = [
    RGBColor(220, 235, 250), // GDR
    RGBColor(255, 240, 215), // LDR
    RGBColor(235, 235, 235), // unused
    RGBColor(245, 225, 245), // private
];

const CEILING: RGBColor = RGBColor(200, 0, 0);
const MOVE: RGBColor = RGBColor(90, 60, 160);
const FONT: &str = "sans-serif";

fn band_colour(track: &str) -> RGBColor {
    match track {
        "GDR" => BAND_COLOURS[0],
        "LDR" => BAND_COLOURS[1],
        "unused" => BAND_COLOURS[2],
        _ => BAND_COLOURS[3],
    }
}

fn day_label(d: i64) -> String {
    Date::from_days(d).map_or_else(String::new, |d| d.to_string())
}

pub const TIMELINE_SIZE: (u32, u32) = (1100, 520);

/// The timeline as a standalone SVG document.
pub fn timeline_svg(t: &Timeline) -> Result<String, RenderError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, TIMELINE_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let (x0, x1) = t.days();
        let (y0, y1) = t.revisions();
        let title = format!(
            "OS version {}: revision by release date (builds {})",
            t.family,
            t.builds.join(", ")
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(chart_err)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(10)
            .x_label_formatter(&|d| day_label(*d))
            .x_desc("release date (from inside the package)")
            .y_desc("revision")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(chart_err)?;
        // Keeps labels off the axis line (SVG collapses leading spaces).
        let nudge = ((x1 - x0) / 150).max(1);
        for b in &t.bands {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, i32::from(b.floor)), (x1, i32::from(b.ceiling))],
                    band_colour(&b.track).mix(0.8).filled(),
                )))
                .map_err(chart_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{} window {}–{}", b.track, b.floor, b.ceiling),
                    (x0 + nudge, i32::from(b.floor)),
                    (FONT, 13)
                        .into_font()
                        .color(&RGBColor(90, 90, 90))
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                )))
                .map_err(chart_err)?;
        }
        let ceilings: Vec<(u16, String)> = t
            .bands
            .iter()
            .filter(|b| b.used)
            .map(|b| {
                (
                    b.ceiling,
                    format!(
                        "ceiling {} ({} counter {})",
                        b.ceiling, b.track, NT6_COUNTER_MAX
                    ),
                )
            })
            .chain(
                t.plain_ceiling
                    .map(|c| (c, format!("ceiling {c} (16-bit revision)"))),
            )
            .collect();
        for (c, label) in &ceilings {
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0, i32::from(*c)), (x1, i32::from(*c))],
                    8,
                    5,
                    CEILING.stroke_width(2),
                ))
                .map_err(chart_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (x0 + nudge, i32::from(*c)),
                    (FONT, 13)
                        .into_font()
                        .style(FontStyle::Bold)
                        .color(&CEILING)
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                )))
                .map_err(chart_err)?;
        }
        // Each build's stretch, labelled beside its points (below them when they are
        // in the upper half, above otherwise).
        let mid = y0 + (y1 - y0) / 2;
        let gap = (y1 - y0) / 40;
        for sp in &t.spans {
            let x = sp.first_day + (sp.last_day - sp.first_day) / 2;
            let (y, v) = if i32::from(sp.max_revision) > mid {
                (i32::from(sp.min_revision) - gap, VPos::Top)
            } else {
                (i32::from(sp.max_revision) + gap, VPos::Bottom)
            };
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("build {}", sp.build),
                    (x, y),
                    (FONT, 15)
                        .into_font()
                        .style(FontStyle::Bold)
                        .color(&RGBColor(40, 40, 40))
                        .pos(Pos::new(HPos::Center, v)),
                )))
                .map_err(chart_err)?;
        }
        for (i, m) in t.moves.iter().enumerate() {
            chart
                .draw_series(DashedLineSeries::new(
                    [(m.day, y0), (m.day, y1)],
                    6,
                    4,
                    MOVE.stroke_width(2),
                ))
                .map_err(chart_err)?;
            // Mid-height, staggered when there are several moves.
            let step = (y1 - y0) / 14;
            let y = y0 + step * (6 - i as i32 % 4);
            let anchor = if m.day > x0 + (x1 - x0) * 3 / 4 {
                HPos::Right
            } else {
                HPos::Left
            };
            let text = format!(
                " {} moved first: {} → {} ({}) ",
                m.kb, m.from, m.to, m.platforms
            );
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (m.day, y),
                    (FONT, 14)
                        .into_font()
                        .style(FontStyle::Bold)
                        .color(&MOVE)
                        .pos(Pos::new(anchor, VPos::Bottom)),
                )))
                .map_err(chart_err)?;
        }
        for (i, s) in t.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let pts: Vec<(i64, i32)> = s.points.iter().map(|p| (p.0, i32::from(p.1))).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                .map_err(chart_err)?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                });
            // Components often share revisions: a marker shape per series keeps
            // overlapping points apart.
            let style = colour.stroke_width(2);
            let r = chart.draw_series(pts.iter().map(
                |p| -> DynElement<'static, SVGBackend, (i64, i32)> {
                    match i % 4 {
                        0 => Circle::new(*p, 4, style.filled()).into_dyn(),
                        1 => TriangleMarker::new(*p, 6, style).into_dyn(),
                        2 => Cross::new(*p, 5, style).into_dyn(),
                        _ => Circle::new(*p, 6, style).into_dyn(),
                    }
                },
            ));
            r.map_err(chart_err)?;
        }
        if !t.series.is_empty() {
            chart
                .configure_series_labels()
                .position(legend_position(t, (x0, x1), (y0, y1)))
                .label_font((FONT, 13))
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(160, 160, 160))
                .draw()
                .map_err(chart_err)?;
        }
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// Upper right unless the data's last quarter is in the upper half of the chart.
fn legend_position(t: &Timeline, x: (i64, i64), y: (i32, i32)) -> SeriesLabelPosition {
    let from = x.1 - (x.1 - x.0) / 3;
    let mid = y.0 + (y.1 - y.0) / 2;
    let high = t
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .any(|p| p.0 >= from && i32::from(p.1) > mid);
    if high {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    }
}

/// The headroom chart as a standalone SVG document; `None` when there is nothing to draw.
pub fn headroom_svg(bars: &[Bar]) -> Result<Option<String>, RenderError> {
    if bars.is_empty() {
        return Ok(None);
    }
    let n = bars.len() as i32;
    let height = 90 + 28 * bars.len() as u32;
    let lo = bars.iter().map(|b| b.headroom).min().unwrap_or(0).min(0);
    let hi = bars.iter().map(|b| b.headroom).max().unwrap_or(1).max(1);
    let hi = hi + hi / 8 + 1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Closest to the ceiling: values left (NT 6.x: 12-bit counter to 4095)",
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(430)
            .build_cartesian_2d(lo..hi, (0..n).into_segmented())
            .map_err(chart_err)?;
        let label_of = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => usize::try_from(n - 1 - *i)
                .ok()
                .and_then(|i| bars.get(i))
                .map_or_else(String::new, |b| b.label.clone()),
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len())
            .y_label_formatter(&label_of)
            .x_desc("values left before the ceiling")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(chart_err)?;
        for (i, b) in bars.iter().enumerate() {
            // Closest at the top.
            let row = n - 1 - i as i32;
            let colour = if b.close {
                CEILING
            } else {
                RGBColor(0, 114, 178)
            };
            let mut r = Rectangle::new(
                [
                    (0, SegmentValue::Exact(row)),
                    (b.headroom, SegmentValue::Exact(row + 1)),
                ],
                colour.filled(),
            );
            r.set_margin(4, 4, 0, 0);
            chart.draw_series(std::iter::once(r)).map_err(chart_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{}{}", b.headroom, if b.close { " (close)" } else { "" }),
                    (b.headroom.max(0), SegmentValue::CenterOf(row)),
                    (FONT, 13)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )))
                .map_err(chart_err)?;
        }
        root.present().map_err(chart_err)?;
    }
    Ok(Some(svg))
}

/// A chart ready to embed or to write beside a markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// `timeline-6.0`, `headroom`: element id and file stem.
    pub id: String,
    pub title: String,
    pub svg: String,
}

/// Every chart of the report, in page order.
pub fn all(scan: &ScanReport, a: &Analysis) -> Result<Vec<Chart>, RenderError> {
    let mut out = Vec::new();
    for t in timelines(scan, a) {
        let drawn = if t.omitted > 0 {
            format!(
                " ({} of {} components drawn: those closest to a ceiling)",
                t.series.len(),
                t.series.len() + t.omitted
            )
        } else {
            String::new()
        };
        out.push(Chart {
            id: t.id(),
            title: format!("Timeline: OS version {}{drawn}", t.family),
            svg: timeline_svg(&t)?,
        });
    }
    if let Some(svg) = headroom_svg(&headroom(a))? {
        out.push(Chart {
            id: "headroom".into(),
            title: HEADROOM_TITLE.into(),
            svg,
        });
    }
    Ok(out)
}

const HEADROOM_TITLE: &str = "Headroom: components closest to their ceiling";

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, pts: &[(i64, u16)]) -> TimelineSeries {
        TimelineSeries {
            label: label.into(),
            points: pts.to_vec(),
        }
    }

    #[test]
    fn bands_cover_gdr_to_ldr_and_mark_the_used_ones() {
        let used: BTreeSet<(u16, u16)> = [(0x4000, 0x4FFF), (0x5000, 0x5FFF)].into();
        let b = bands_between(&used);
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].track.as_str(), b[0].floor, b[0].ceiling),
            ("GDR", 16384, 20479)
        );
        assert_eq!(
            (b[1].track.as_str(), b[1].floor, b[1].ceiling),
            ("LDR", 20480, 24575)
        );
        // GDR and "unused" with LDR between them: LDR is shaded but not a used window.
        let used: BTreeSet<(u16, u16)> = [(0x4000, 0x4FFF), (0x6000, 0x6FFF)].into();
        let b = bands_between(&used);
        assert_eq!(
            b.iter()
                .map(|b| (b.track.as_str(), b.used))
                .collect::<Vec<_>>(),
            [("GDR", true), ("LDR", false), ("unused", true)]
        );
    }

    #[test]
    fn labels_are_escaped_and_printable_in_svg() {
        let t = Timeline {
            family: "6.0".into(),
            builds: vec!["6.0.6002".into()],
            bands: bands_between(&[(0x5000, 0x5FFF)].into()),
            plain_ceiling: None,
            series: vec![series(
                &printable("<script>alert(1)</script>&\"'\u{1b}[31m"),
                &[(17_900, 24_500), (17_930, 24_566)],
            )],
            omitted: 0,
            spans: Vec::new(),
            moves: vec![MoveMark {
                day: 17_920,
                kb: "KB<b>".into(),
                from: "6.0.6002".into(),
                to: "6.0.6003".into(),
                platforms: "x86".into(),
            }],
        };
        let svg = timeline_svg(&t).expect("svg");
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&apos;\\u{1b}[31m"));
        assert!(svg.contains("KB&lt;b&gt;"));
        assert!(!svg.contains('\u{1b}'));
        assert!(svg.contains("ceiling 24575 (LDR counter 4095)"));
        assert!(svg.contains("LDR window 20480–24575"));
        // Same input, same bytes.
        assert_eq!(svg, timeline_svg(&t).expect("svg"));
    }

    #[test]
    fn headroom_bars_escape_labels() {
        let svg = headroom_svg(&[Bar {
            label: "<img src=x onerror=alert(1)>".into(),
            headroom: 9,
            close: true,
        }])
        .expect("svg")
        .expect("one bar");
        assert!(!svg.contains("<img"));
        assert!(svg.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(svg.contains("9 (close)"));
        assert_eq!(headroom_svg(&[]).expect("svg"), None);
    }

    #[test]
    fn cut_keeps_both_ends() {
        assert_eq!(cut("abcdefghij", 5), "ab…ij");
        assert_eq!(cut("abc", 5), "abc");
    }
}
