//! Build moves: for each series, the package that first carried a higher build, what it
//! changed, the later packages that carried the new build and the stragglers still on the
//! old one (the Server 2008 SP2 6.0.6002 → 6.0.6003 move of March 2019 is the model).

use crate::error::RenderError;
use crate::format::{or_dash, package_date, package_label, printable, signed};
use crate::sections::doc::{heading, para, subheading, Grid, Style};
use kbscan_analysis::{Analysis, BuildMove, MovingPackage};
use std::io::Write;

pub(crate) fn moves(a: &Analysis, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    heading(style, "Build moves", out)?;
    para(
        style,
        "A package moves a series (major.minor on one platform) when it carries a higher build than \
         every earlier dated package of that series. RESET = after - before revision.",
        out,
    )?;
    if a.moves.is_empty() {
        para(style, "No build moves.", out)?;
        return Ok(());
    }
    for m in &a.moves {
        writeln!(out)?;
        one_move(m, style, out)?;
    }
    Ok(())
}

fn one_move(m: &BuildMove, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    subheading(
        style,
        &format!(
            "{} {}: {} -> {}",
            m.os,
            printable(&m.platform),
            m.from,
            m.to
        ),
        out,
    )?;
    let f = &m.first_mover;
    let p = &f.package;
    para(
        style,
        &format!(
            "first mover: {} {} {} (date from {}), {}",
            package_label(p),
            printable(&p.architecture),
            package_date(p),
            or_dash(p.date_source.as_deref()),
            or_dash(p.release_type.as_deref()),
        ),
        out,
    )?;
    para(style, &format!("source: {}", printable(&p.source)), out)?;
    changes(f, style, out)?;
    if m.later_movers.is_empty() {
        para(style, "later packages carrying the new build: none", out)?;
    } else {
        para(
            style,
            &format!(
                "later packages carrying {} ({}):",
                m.to,
                m.later_movers.len()
            ),
            out,
        )?;
        let rows = m
            .later_movers
            .iter()
            .map(|l| {
                let mut what = Vec::new();
                if !l.changed.is_empty() {
                    what.push(format!("{} changed build", l.changed.len()));
                }
                if !l.new_components.is_empty() {
                    what.push(format!("{} new", l.new_components.len()));
                }
                vec![
                    package_label(&l.package),
                    package_date(&l.package),
                    or_dash(l.package.release_type.as_deref()),
                    if what.is_empty() {
                        "-".into()
                    } else {
                        what.join(", ")
                    },
                ]
            })
            .collect();
        Grid {
            headers: &["KB", "DATE", "TYPE", "COMPONENTS"],
            rows,
            flex: None,
            indent: 4,
        }
        .write(style, out)?;
        for l in m
            .later_movers
            .iter()
            .filter(|l| !l.changed.is_empty() || !l.new_components.is_empty())
        {
            para(
                style,
                &format!(
                    "in {} {}:",
                    package_label(&l.package),
                    package_date(&l.package)
                ),
                out,
            )?;
            changes(l, style, out)?;
        }
    }
    if m.stragglers.is_empty() {
        para(
            style,
            "stragglers (later packages still on the old build): none",
            out,
        )?;
    } else {
        para(
            style,
            &format!(
                "stragglers (later packages still on the old build) ({}):",
                m.stragglers.len()
            ),
            out,
        )?;
        let rows = m
            .stragglers
            .iter()
            .map(|s| {
                vec![
                    package_label(&s.package),
                    package_date(&s.package),
                    s.builds
                        .iter()
                        .map(|b| b.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    printable(&s.package.source),
                ]
            })
            .collect();
        Grid {
            headers: &["KB", "DATE", "BUILDS", "SOURCE"],
            rows,
            flex: Some(3),
            indent: 4,
        }
        .write(style, out)?;
    }
    Ok(())
}

fn changes(p: &MovingPackage, style: Style, out: &mut dyn Write) -> Result<(), RenderError> {
    let mut rows: Vec<Vec<String>> = p
        .changed
        .iter()
        .map(|c| {
            vec![
                printable(&c.name),
                printable(&c.architecture),
                c.before.to_string(),
                c.after.to_string(),
                signed(c.reset),
                printable(&c.before_package),
            ]
        })
        .collect();
    rows.extend(p.new_components.iter().map(|c| {
        vec![
            printable(&c.name),
            printable(&c.architecture),
            "(new)".into(),
            c.version.to_string(),
            "".into(),
            "".into(),
        ]
    }));
    if rows.is_empty() {
        return Ok(());
    }
    Grid {
        headers: &["COMPONENT", "ARCH", "BEFORE", "AFTER", "RESET", "BEFORE IN"],
        rows,
        flex: Some(0),
        indent: 4,
    }
    .write(style, out)?;
    Ok(())
}
