//! `kbscan report --format html`: one self-contained page (inline CSS, inline SVG charts,
//! no JavaScript, no external reference of any kind) that opens from disk and prints.
//!
//! The page is a `minijinja` template (`templates/report.html`, compiled in) rendered with
//! HTML auto-escaping: every value is escaped unless the template marks it `|safe`, and
//! only the charts are, because we draw them ourselves (see [`crate::charts`]: their text
//! is escaped by the SVG backend and made printable before). Strings from packages also
//! go through [`printable`] so control characters show as `\u{…}`. The view model below
//! is built from ordered data only, so the same scan gives byte-identical HTML.

use crate::charts::{self, Chart};
use crate::error::RenderError;
use crate::format::{
    anomaly_kind, display_or_dash, forecast_when, list_kbs, or_dash, package_label, printable,
    signed, slope, track_and_counter,
};
use kbscan_analysis::{
    Analysis, BuildMove, CeilingFinding, ForecastScope, MovingPackage, PackageRef, Scheme,
};
use kbscan_model::{CheckOutcome, Package, ScanReport};
use minijinja::value::Serde;
use minijinja::{Environment, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

const TEMPLATE: &str = include_str!("../templates/report.html");

/// Ceiling findings listed in the table (the JSON has them all).
pub const MAX_FINDINGS: usize = 400;
/// Files listed per package.
pub const MAX_FILES: usize = 300;

/// The `id` of every section, in page order (tests look for each).
pub const SECTION_IDS: [&str; 9] = [
    "summary",
    "timelines",
    "headroom",
    "moves",
    "ceilings",
    "anomalies",
    "forecast",
    "packages",
    "errors",
];

#[derive(Serialize)]
struct Card {
    label: &'static str,
    value: String,
    note: String,
    alert: bool,
}

#[derive(Serialize)]
struct ChartView {
    id: String,
    title: String,
    svg: String,
}

#[derive(Serialize)]
struct Change {
    name: String,
    arch: String,
    before: String,
    after: String,
    reset: String,
    before_in: String,
}

#[derive(Serialize)]
struct Mover {
    kb: String,
    arch: String,
    date: String,
    date_source: String,
    release_type: String,
    source: String,
    changes: Vec<Change>,
}

#[derive(Serialize)]
struct Straggler {
    kb: String,
    date: String,
    builds: String,
    source: String,
}

#[derive(Serialize)]
struct MoveView {
    title: String,
    first: Mover,
    later: Vec<Mover>,
    stragglers: Vec<Straggler>,
}

#[derive(Serialize)]
struct FindingRow {
    kind: &'static str,
    left: i32,
    version: String,
    track: String,
    counter: String,
    to_65535: u16,
    name: String,
    arch: String,
    packages: String,
    close: bool,
}

#[derive(Serialize)]
struct Row(Vec<String>);

#[derive(Serialize)]
struct ComponentRow {
    name: String,
    arch: String,
    version: String,
    branch: String,
    files: u32,
}

#[derive(Serialize)]
struct FileRow {
    path: String,
    version: String,
    file_version_string: String,
    company: String,
    size: u64,
    mismatches: String,
}

#[derive(Serialize)]
struct ErrorRow {
    path: String,
    kind: String,
    message: String,
}

#[derive(Serialize)]
struct PackageView {
    title: String,
    kb: String,
    source: String,
    kind: String,
    identity: String,
    about: Vec<Row>,
    arch: String,
    release_type: String,
    date: String,
    date_source: String,
    builds: String,
    sha256: String,
    size: u64,
    properties: Vec<Row>,
    components: Vec<ComponentRow>,
    files: Vec<FileRow>,
    files_total: usize,
    errors: Vec<ErrorRow>,
}

#[derive(Serialize)]
struct Page {
    kbscan_version: String,
    span: String,
    cards: Vec<Card>,
    timelines: Vec<ChartView>,
    headroom: Option<ChartView>,
    moves: Vec<MoveView>,
    rules: Vec<String>,
    close_headroom: u32,
    close_percent: f64,
    findings_close: u32,
    findings_total: usize,
    findings: Vec<FindingRow>,
    anomalies: Vec<Row>,
    forecast_builds: Vec<Row>,
    forecast_components: Vec<Row>,
    packages: Vec<PackageView>,
    undated: Vec<Row>,
    errors: Vec<ErrorRow>,
    section_ids: Vec<&'static str>,
}

fn mover(m: &MovingPackage) -> Mover {
    let p: &PackageRef = &m.package;
    let mut changes: Vec<Change> = m
        .changed
        .iter()
        .map(|c| Change {
            name: printable(&c.name),
            arch: printable(&c.architecture),
            before: c.before.to_string(),
            after: c.after.to_string(),
            reset: signed(c.reset),
            before_in: printable(&c.before_package),
        })
        .collect();
    changes.extend(m.new_components.iter().map(|c| Change {
        name: printable(&c.name),
        arch: printable(&c.architecture),
        before: "(new)".into(),
        after: c.version.to_string(),
        reset: String::new(),
        before_in: String::new(),
    }));
    Mover {
        kb: package_label(p),
        arch: printable(&p.architecture),
        date: or_dash(p.date.as_deref()),
        date_source: or_dash(p.date_source.as_deref()),
        release_type: or_dash(p.release_type.as_deref()),
        source: printable(&p.source),
        changes,
    }
}

fn move_view(m: &BuildMove) -> MoveView {
    MoveView {
        title: format!(
            "{} {}: {} → {}",
            printable(&m.os),
            printable(&m.platform),
            m.from,
            m.to
        ),
        first: mover(&m.first_mover),
        later: m.later_movers.iter().map(mover).collect(),
        stragglers: m
            .stragglers
            .iter()
            .map(|s| Straggler {
                kb: package_label(&s.package),
                date: or_dash(s.package.date.as_deref()),
                builds: s
                    .builds
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                source: printable(&s.package.source),
            })
            .collect(),
    }
}

fn finding_row(f: &CeilingFinding) -> FindingRow {
    let (track, counter) = track_and_counter(f.nt6);
    FindingRow {
        kind: match f.kind {
            kbscan_analysis::VersionKind::Component => "component",
            kbscan_analysis::VersionKind::File => "file",
        },
        left: f.headroom,
        version: f.version.to_string(),
        track,
        counter,
        to_65535: f.revision_headroom,
        name: printable(&f.name),
        arch: printable(&f.architectures.join(", ")),
        packages: list_kbs(&f.packages, 4),
        close: f.close,
    }
}

fn package_view(p: &Package) -> PackageView {
    let kb = or_dash(p.kb.as_deref());
    let builds: Vec<String> = p
        .os_builds
        .iter()
        .map(|(arch, b)| {
            format!(
                "{}: {}",
                printable(arch),
                b.iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let files: Vec<FileRow> = p
        .files
        .iter()
        .take(MAX_FILES)
        .map(|f| {
            let pe = f.pe.as_ref();
            FileRow {
                path: printable(&f.path),
                version: display_or_dash(f.versions.pe_file.or(f.versions.component)),
                file_version_string: or_dash(pe.and_then(|p| p.file_version_string.as_deref())),
                company: or_dash(pe.and_then(|p| p.company_name.as_deref())),
                size: f.size,
                mismatches: f
                    .checks
                    .iter()
                    .filter(|c| c.outcome == CheckOutcome::Mismatch)
                    .map(|c| {
                        format!(
                            "{}: expected {}, got {}",
                            printable(&c.check),
                            or_dash(c.expected.as_deref()),
                            or_dash(c.actual.as_deref())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })
        .collect();
    PackageView {
        title: format!(
            "{} {} {} — {} components, {} files{}",
            kb,
            or_dash(p.architecture.as_deref()),
            or_dash(p.dates.release.as_deref()),
            p.components.len(),
            p.files.len(),
            if p.errors.is_empty() {
                String::new()
            } else {
                format!(", {} errors", p.errors.len())
            }
        ),
        kb,
        source: printable(&p.source),
        kind: format!("{:?}", p.kind),
        identity: p.identity.as_ref().map_or_else(
            || "-".into(),
            |i| format!("{} {}", printable(&i.name), or_dash(i.version.as_deref())),
        ),
        about: [
            ("display name", &p.about.display_name),
            ("description", &p.about.description),
            ("company", &p.about.company),
            ("copyright", &p.about.copyright),
            ("support information", &p.about.support_information),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| Row(vec![k.into(), printable(v)])))
        .collect(),
        arch: or_dash(p.architecture.as_deref()),
        release_type: or_dash(p.release_type.as_deref()),
        date: or_dash(p.dates.release.as_deref()),
        date_source: or_dash(p.dates.release_source.as_deref()),
        builds: builds.join("; "),
        sha256: printable(&p.sha256),
        size: p.size,
        properties: p
            .properties
            .iter()
            .flat_map(|pr| pr.entries.iter())
            .map(|(k, v)| Row(vec![printable(k), printable(v)]))
            .collect(),
        components: p
            .components
            .iter()
            .map(|c| ComponentRow {
                name: printable(&c.name),
                arch: or_dash(c.architecture.as_deref()),
                version: display_or_dash(c.version),
                branch: or_dash(c.branch.as_deref()),
                files: c.files,
            })
            .collect(),
        files,
        files_total: p.files.len(),
        errors: p
            .errors
            .iter()
            .map(|e| ErrorRow {
                path: printable(&e.path),
                kind: e.kind.to_string(),
                message: printable(&e.message),
            })
            .collect(),
    }
}

/// Packages in release order (as the analysis ordered them), then the undated ones,
/// then any the analysis does not list, in scan order.
fn ordered_packages<'a>(scan: &'a ScanReport, a: &Analysis) -> Vec<&'a Package> {
    let mut by_source: BTreeMap<&str, Vec<&'a Package>> = BTreeMap::new();
    for p in &scan.packages {
        by_source.entry(p.source.as_str()).or_default().push(p);
    }
    let mut out = Vec::new();
    let refs = a
        .packages
        .iter()
        .map(|p| &p.package)
        .chain(a.undated.iter().map(|u| &u.package));
    for r in refs {
        if let Some(list) = by_source.get_mut(r.source.as_str()) {
            if let Some(i) = list.iter().position(|p| {
                p.kb == r.kb && p.dates.release == r.date && p.release_type == r.release_type
            }) {
                out.push(list.remove(i));
            }
        }
    }
    let rest: Vec<&'a Package> = scan
        .packages
        .iter()
        .filter(|p| !out.iter().any(|o| std::ptr::eq(*o, *p)))
        .collect();
    out.extend(rest);
    out
}

fn page(scan: &ScanReport, a: &Analysis, charts: Vec<Chart>) -> Page {
    let s = &a.summary;
    let builds: std::collections::BTreeSet<_> =
        a.series.iter().flat_map(|x| x.builds.iter()).collect();
    let cards = vec![
        Card {
            label: "packages",
            value: s.packages.to_string(),
            note: format!("{} dated, {} undated", s.dated, s.undated),
            alert: false,
        },
        Card {
            label: "files",
            value: scan.totals.files.to_string(),
            note: format!("{} PE images", scan.totals.pe_files),
            alert: false,
        },
        Card {
            label: "OS builds",
            value: builds.len().to_string(),
            note: builds
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            alert: false,
        },
        Card {
            label: "build moves",
            value: s.moves.to_string(),
            note: a
                .moves
                .iter()
                .map(|m| format!("{} → {}", m.from, m.to))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", "),
            alert: s.moves > 0,
        },
        Card {
            label: "near a ceiling",
            value: s.close_to_ceiling.to_string(),
            note: format!("of {} versions measured", s.versions_measured),
            alert: s.close_to_ceiling > 0,
        },
        Card {
            label: "errors",
            value: s.errors.to_string(),
            note: format!("{} of {} inputs failed", s.inputs_failed, s.inputs),
            alert: s.errors > 0,
        },
    ];
    let mut timelines = Vec::new();
    let mut headroom = None;
    for c in charts {
        let v = ChartView {
            id: format!("chart-{}", c.id),
            title: c.title,
            svg: c.svg,
        };
        if c.id == "headroom" {
            headroom = Some(v);
        } else {
            timelines.push(v);
        }
    }
    let c = &a.ceilings;
    let rules = c
        .rules
        .iter()
        .map(|r| {
            let scope = match r.min_build {
                Some(b) => format!("{} (build ≥ {b})", printable(&r.os)),
                None => printable(&r.os),
            };
            match (r.scheme, r.ceiling) {
                (Scheme::Nt6, _) => format!("{scope}: NT 6.x track window (12-bit counter)"),
                (Scheme::Plain, c) => format!("{scope}: revision ≤ {}", c.unwrap_or(u16::MAX)),
            }
        })
        .collect();
    let pkgs = ordered_packages(scan, a);
    Page {
        kbscan_version: printable(&a.kbscan_version),
        span: match (&s.first_date, &s.last_date) {
            (Some(f), Some(l)) => format!("{} … {}", printable(f), printable(l)),
            _ => String::new(),
        },
        cards,
        timelines,
        headroom,
        moves: a.moves.iter().map(move_view).collect(),
        rules,
        close_headroom: c.close.headroom,
        close_percent: c.close.percent,
        findings_close: c.findings_close,
        findings_total: c.findings.len(),
        findings: c
            .findings
            .iter()
            .take(MAX_FINDINGS)
            .map(finding_row)
            .collect(),
        anomalies: a
            .anomalies
            .iter()
            .map(|x| {
                Row(vec![
                    anomaly_kind(x.kind).into(),
                    printable(&x.name),
                    printable(&x.architectures.join(", ")),
                    match x.previous {
                        Some(p) => format!("{p} → {}", x.version),
                        None => x.version.to_string(),
                    },
                    list_kbs(&x.packages, 4),
                    printable(&x.message),
                ])
            })
            .collect(),
        forecast_builds: a
            .forecasts
            .iter()
            .filter(|f| f.scope == ForecastScope::OsBuild)
            .map(|f| {
                Row(vec![
                    f.os_build.to_string(),
                    display_or_dash(f.track),
                    f.points.to_string(),
                    f.first_date.clone(),
                    f.last_date.clone(),
                    f.last_value.to_string(),
                    f.headroom.to_string(),
                    slope(f.slope_per_month),
                    forecast_when(f),
                    f.inputs
                        .iter()
                        .map(|p| format!("{} {} {}", p.date, p.value, printable(&p.package)))
                        .collect::<Vec<_>>()
                        .join(", "),
                ])
            })
            .collect(),
        forecast_components: a
            .forecasts
            .iter()
            .filter(|f| f.scope == ForecastScope::Component)
            .map(|f| {
                Row(vec![
                    f.os_build.to_string(),
                    display_or_dash(f.track),
                    or_dash(f.component.as_deref()),
                    f.points.to_string(),
                    f.last_date.clone(),
                    f.last_value.to_string(),
                    f.headroom.to_string(),
                    slope(f.slope_per_month),
                    forecast_when(f),
                ])
            })
            .collect(),
        packages: pkgs.iter().map(|p| package_view(p)).collect(),
        undated: a
            .undated
            .iter()
            .map(|u| {
                Row(vec![
                    or_dash(u.package.kb.as_deref()),
                    printable(&u.package.source),
                    printable(&u.reason),
                ])
            })
            .collect(),
        errors: a
            .errors
            .iter()
            .map(|e| ErrorRow {
                path: printable(&e.path),
                kind: e.kind.to_string(),
                message: printable(&e.message),
            })
            .collect(),
        section_ids: SECTION_IDS.to_vec(),
    }
}

/// Writes the HTML report of `scan` and its analysis `a`.
pub fn render(scan: &ScanReport, a: &Analysis, out: &mut dyn Write) -> Result<(), RenderError> {
    let charts = charts::all(scan, a)?;
    let mut env = Environment::new();
    // The name ends in `.html`, which turns on HTML auto-escaping for the template.
    env.add_template("report.html", TEMPLATE)?;
    let tmpl = env.get_template("report.html")?;
    let html = tmpl.render(Value::from(Serde(page(scan, a, charts))))?;
    out.write_all(html.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_escapes_everything_but_charts() {
        let mut env = Environment::new();
        env.add_template("t.html", "<p>{{ s }}</p>")
            .expect("template");
        let out = env
            .get_template("t.html")
            .expect("template")
            .render(minijinja::context! { s => printable("<script>alert(1)</script>\"'&\u{7}") })
            .expect("render");
        assert_eq!(
            out,
            "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&#x27;&amp;\\u{7}</p>"
        );
    }

    #[test]
    fn every_section_id_is_in_the_template() {
        for id in SECTION_IDS {
            assert!(
                TEMPLATE.contains(&format!("id=\"{id}\"")),
                "section {id} missing from templates/report.html"
            );
        }
    }
}
