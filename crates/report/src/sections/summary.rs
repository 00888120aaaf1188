//! The report's first section: what was scanned, in numbers, then every dated package in
//! release order (the order every later section relies on) and the undated ones.

use crate::error::RenderError;
use crate::format::{or_dash, package_date, package_label, printable};
use crate::sections::doc::{heading, key_values, para, Grid, Style};
use kbscan_analysis::{Analysis, PackageRef};
use std::io::Write;

pub(crate) fn summary(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    let s = &a.summary;
    heading(style, "Summary", out)?;
    let span = match (&s.first_date, &s.last_date) {
        (Some(f), Some(l)) => format!(" ({} … {})", printable(f), printable(l)),
        _ => String::new(),
    };
    let series: Vec<String> = a
        .series
        .iter()
        .map(|x| {
            let builds: Vec<String> = x.builds.iter().map(|b| b.build.to_string()).collect();
            format!("{} {} [{}]", x.os, printable(&x.platform), builds.join(","))
        })
        .collect();
    let close = &a.ceilings.close;
    let rows = [
        [
            "inputs".into(),
            format!("{} ({} failed)", s.inputs, s.inputs_failed),
        ],
        [
            "packages".into(),
            format!(
                "{}: {} dated{span}, {} undated",
                s.packages, s.dated, s.undated
            ),
        ],
        [
            "series".into(),
            format!("{}: {}", s.series, series.join("; ")),
        ],
        ["build moves".into(), s.moves.to_string()],
        [
            "ceilings".into(),
            format!(
                "{} of {} versions close (headroom <= {} or <= {}% of the range)",
                s.close_to_ceiling, s.versions_measured, close.headroom, close.percent
            ),
        ],
        ["anomalies".into(), s.anomalies.to_string()],
        ["forecasts".into(), s.forecasts.to_string()],
        ["errors".into(), s.errors.to_string()],
    ];
    key_values(style, &rows, out)?;
    writeln!(out)?;
    para(
        style,
        "Packages are ordered by the release date inside them (DATE FROM: mum = update.mum \
         creationTimeStamp, props = pkgProperties Build Date), then KB, architecture, source.",
        out,
    )?;
    if style == Style::Table {
        writeln!(out)?;
    }
    let rows = a
        .packages
        .iter()
        .map(|p| {
            let builds: Vec<String> = p.builds.iter().map(|b| b.to_string()).collect();
            vec![
                package_date(&p.package),
                date_source_short(&p.package),
                package_label(&p.package),
                printable(&p.package.architecture),
                or_dash(p.package.release_type.as_deref()),
                builds.join(","),
            ]
        })
        .collect();
    Grid {
        headers: &["DATE", "FROM", "KB", "ARCH", "TYPE", "BUILDS"],
        rows,
        flex: Some(5),
        indent: 2,
    }
    .write(style, out)?;
    if !a.undated.is_empty() {
        writeln!(out)?;
        para(
            style,
            &format!(
                "Undated ({}): not ordered, not in build moves or forecasts.",
                a.undated.len()
            ),
            out,
        )?;
        if style == Style::Table {
            writeln!(out)?;
        }
        let rows = a
            .undated
            .iter()
            .map(|u| {
                vec![
                    or_dash(u.package.kb.as_deref()),
                    printable(&u.package.source),
                    printable(&u.reason),
                ]
            })
            .collect();
        Grid {
            headers: &["KB", "SOURCE", "WHY"],
            rows,
            flex: Some(1),
            indent: 2,
        }
        .write(style, out)?;
    }
    Ok(())
}

/// `update.mum creationTimeStamp` → `mum`, `pkgProperties Build Date` → `props`:
/// the full names are in the summary's legend and in the JSON.
fn date_source_short(p: &PackageRef) -> String {
    match p.date_source.as_deref() {
        Some(s) if s.starts_with("update.mum") => "mum".into(),
        Some(s) if s.starts_with("pkgProperties") => "props".into(),
        Some(s) => printable(s),
        None => "-".into(),
    }
}
