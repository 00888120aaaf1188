//! Ceilings (how close each version is to the limit of its 16-bit revision or NT 6.x track
//! window, closest first) and anomalies (revisions in tracks public packages do not use,
//! counters going down without a build move).

use crate::error::RenderError;
use crate::format::{anomaly_kind, list_kbs, printable, track_and_counter};
use crate::sections::doc::{heading, para, subheading, Grid, Style};
use kbscan_analysis::{Analysis, CeilingFinding, Scheme, VersionKind};
use std::io::Write;

fn finding_row(f: &CeilingFinding) -> Vec<String> {
    let (track, counter) = track_and_counter(f.nt6);
    vec![
        f.headroom.to_string(),
        f.version.to_string(),
        track,
        counter,
        f.revision_headroom.to_string(),
        printable(&f.name),
        printable(&f.architectures.join(",")),
        list_kbs(&f.packages, 1),
    ]
}

const FINDING_HEADERS: [&str; 8] = [
    "LEFT", "VERSION", "TRACK", "CTR", "TO 65535", "NAME", "ARCH", "PACKAGES",
];

/// Not-close findings shown per table after the close ones (JSON lists all).
const MORE_FINDINGS: usize = 5;

pub(crate) fn ceilings(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    let c = &a.ceilings;
    heading(style, "Ceilings", out)?;
    let rules: Vec<String> = c
        .rules
        .iter()
        .map(|r| {
            let scope = match r.min_build {
                Some(b) => format!("{} (build >= {b})", printable(&r.os)),
                None => printable(&r.os),
            };
            let threshold = match (r.close_headroom, r.close_percent) {
                (None, None) => String::new(),
                (h, p) => format!(
                    ", close at <= {} or <= {}%",
                    h.unwrap_or(c.close.headroom),
                    p.unwrap_or(c.close.percent)
                ),
            };
            match (r.scheme, r.ceiling) {
                (Scheme::Nt6, _) => format!("{scope}: NT 6.x track window{threshold}"),
                (Scheme::Plain, c) => {
                    format!("{scope}: revision <= {}{threshold}", c.unwrap_or(u16::MAX))
                }
            }
        })
        .collect();
    para(
        style,
        &format!(
            "Rules: {}. LEFT = values left below the ceiling: for NT 6.x the 12-bit counter (CTR) \
             to 4095, the top of its track window (GDR 20479, LDR 24575); else the revision to \
             the rule's ceiling. TO 65535 = revision headroom to the 16-bit limit. Close: LEFT <= {} \
             or <= {}% of the range. One row per component (name + architecture) or file name \
             and version.",
            rules.join("; "),
            c.close.headroom,
            c.close.percent
        ),
        out,
    )?;
    if style == Style::Table {
        writeln!(out)?;
    }
    para(
        style,
        &format!(
            "{} of {} distinct versions are close; closest first.",
            c.findings_close,
            c.findings.len()
        ),
        out,
    )?;
    for (kind, title) in [
        (VersionKind::Component, "Components"),
        (VersionKind::File, "Files (PE file version)"),
    ] {
        let of_kind: Vec<&CeilingFinding> = c.findings.iter().filter(|f| f.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let close = of_kind.iter().filter(|f| f.close).count();
        let shown = close + (of_kind.len() - close).min(MORE_FINDINGS);
        writeln!(out)?;
        let more = if shown < of_kind.len() {
            format!(
                ", then {} of the {} not close",
                shown - close,
                of_kind.len() - close
            )
        } else {
            String::new()
        };
        subheading(style, &format!("{title}: {close} close{more}"), out)?;
        Grid {
            headers: &FINDING_HEADERS,
            rows: of_kind.iter().take(shown).map(|f| finding_row(f)).collect(),
            flex: Some(5),
            indent: 2,
        }
        .write(style, out)?;
    }
    Ok(())
}

pub(crate) fn anomalies(
    a: &Analysis,
    style: Style,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    heading(style, "Anomalies", out)?;
    if a.anomalies.is_empty() {
        para(
            style,
            "None: no revision in the unused or private NT 6.x track in a public package, and no \
             component counter going down without a build move.",
            out,
        )?;
        return Ok(());
    }
    let rows = a
        .anomalies
        .iter()
        .map(|x| {
            vec![
                anomaly_kind(x.kind).into(),
                printable(&x.name),
                printable(&x.architectures.join(",")),
                match x.previous {
                    Some(p) => format!("{p} -> {}", x.version),
                    None => x.version.to_string(),
                },
                list_kbs(&x.packages, 2),
            ]
        })
        .collect();
    Grid {
        headers: &["KIND", "NAME", "ARCH", "VERSION", "PACKAGES"],
        rows,
        flex: Some(1),
        indent: 2,
    }
    .write(style, out)?;
    Ok(())
}
