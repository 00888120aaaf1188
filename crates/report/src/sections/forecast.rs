//! Forecasts: per OS build and track, and per component, when the counter reaches its
//! limit at the Theil-Sen growth rate, with the dated points each forecast rests on.

use crate::error::RenderError;
use crate::format::{display_or_dash, forecast_when, or_dash, printable, slope};
use crate::sections::doc::{heading, md, para, subheading, Grid, Style};
use crate::text::{width, TABLE_WIDTH};
use kbscan_analysis::{Analysis, Forecast, ForecastScope};
use std::io::Write;

pub(crate) fn forecasts(
    a: &Analysis,
    style: Style,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    heading(style, "Forecast", out)?;
    para(
        style,
        "Growth per month is the Theil-Sen estimate: the median slope over all pairs of points, one \
         point per release date (the highest value that day, all architectures together). VALUE \
         is the NT 6.x counter (or the revision, under a plain rule) at the last point, LEFT what \
         remains to its limit, REACHES the month the fitted line gets there.",
        out,
    )?;
    if a.forecasts.is_empty() {
        para(style, "No dated versions.", out)?;
        return Ok(());
    }
    if style == Style::Table {
        writeln!(out)?;
    }
    let track = |f: &Forecast| display_or_dash(f.track);
    let builds: Vec<&Forecast> = a
        .forecasts
        .iter()
        .filter(|f| f.scope == ForecastScope::OsBuild)
        .collect();
    Grid {
        headers: &[
            "BUILD", "TRACK", "PTS", "PAIRS", "FIRST", "LAST", "VALUE", "LEFT", "/MONTH", "REACHES",
        ],
        rows: builds
            .iter()
            .map(|f| {
                vec![
                    f.os_build.to_string(),
                    track(f),
                    f.points.to_string(),
                    f.pairs.to_string(),
                    f.first_date.clone(),
                    f.last_date.clone(),
                    f.last_value.to_string(),
                    f.headroom.to_string(),
                    slope(f.slope_per_month),
                    forecast_when(f),
                ]
            })
            .collect(),
        flex: None,
        indent: 2,
    }
    .write(style, out)?;
    if style == Style::Table {
        writeln!(out)?;
    }
    para(style, "Inputs (date value package):", out)?;
    for f in &builds {
        let pts: Vec<String> = f
            .inputs
            .iter()
            .map(|p| format!("{} {} {}", p.date, p.value, printable(&p.package)))
            .collect();
        let head = format!("{} {}:", f.os_build, track(f));
        match style {
            Style::Table => {
                // Wrapped, never cut: the inputs are the evidence for the forecast.
                let mut line = format!("    {head}");
                for (i, p) in pts.iter().enumerate() {
                    let sep = if i + 1 < pts.len() { "," } else { "" };
                    if i > 0 && width(&line) + 1 + width(p) + sep.len() > TABLE_WIDTH {
                        writeln!(out, "{line}")?;
                        line = format!("      {p}{sep}");
                    } else {
                        line.push(' ');
                        line.push_str(p);
                        line.push_str(sep);
                    }
                }
                writeln!(out, "{line}")?;
            }
            Style::Markdown => writeln!(out, "- {} {}", md(&head), md(&pts.join(", ")))?,
        }
    }
    for f in builds {
        let comps: Vec<&Forecast> = a
            .forecasts
            .iter()
            .filter(|c| {
                c.scope == ForecastScope::Component
                    && c.os_build == f.os_build
                    && c.track == f.track
            })
            .collect();
        if comps.is_empty() {
            continue;
        }
        writeln!(out)?;
        subheading(
            style,
            &format!("{} {} per component", f.os_build, track(f)),
            out,
        )?;
        Grid {
            headers: &[
                "COMPONENT",
                "PTS",
                "PAIRS",
                "LAST",
                "VALUE",
                "LEFT",
                "/MONTH",
                "REACHES",
            ],
            rows: comps
                .iter()
                .map(|c| {
                    vec![
                        or_dash(c.component.as_deref()),
                        c.points.to_string(),
                        c.pairs.to_string(),
                        c.last_date.clone(),
                        c.last_value.to_string(),
                        c.headroom.to_string(),
                        slope(c.slope_per_month),
                        forecast_when(c),
                    ]
                })
                .collect(),
            flex: Some(0),
            indent: 2,
        }
        .write(style, out)?;
    }
    Ok(())
}
