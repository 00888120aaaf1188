//! Rendering the result of `kbscan check` (a [`Changes`] list against a baseline) as
//! text for people, JSON for tools, JUnit XML for CI test tabs and GitHub workflow
//! annotations.
//!
//! Every string that comes from a package (paths, KBs, release types) is untrusted: XML
//! output escapes it, and GitHub annotations escape it per the workflow-command rules,
//! so a hostile file name cannot forge markup or a second annotation.

use crate::error::RenderError;
use crate::format::printable;
use kbscan_analysis::baseline::{Change, ChangeKind, Changes};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
    Junit,
    Github,
}

/// What to render: the changes, which kinds fail the run, and where the inputs live.
#[derive(Debug, Clone, Copy)]
pub struct CheckResult<'a> {
    pub changes: &'a Changes,
    /// Kinds that fail the run (`--fail-on`).
    pub fail_on: &'a [ChangeKind],
    /// Prefix that turns a change's relative `file` back into a path in the checkout
    /// (the folder the user gave), for annotations; `None` leaves them unattached.
    pub file_prefix: Option<&'a str>,
}

impl CheckResult<'_> {
    pub fn fails(&self, kind: ChangeKind) -> bool {
        self.fail_on.contains(&kind)
    }

    /// Changes of a kind selected by `--fail-on`.
    pub fn failing(&self) -> usize {
        self.changes
            .changes
            .iter()
            .filter(|c| self.fails(c.kind))
            .count()
    }

    fn file_path(&self, c: &Change) -> Option<String> {
        let f = c.file.as_deref()?;
        Some(match self.file_prefix {
            Some(p) if !p.is_empty() && p != "." => format!("{}/{f}", p.trim_end_matches('/')),
            _ => f.to_string(),
        })
    }
}

pub fn render_check(
    r: &CheckResult<'_>,
    format: CheckFormat,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    match format {
        CheckFormat::Text => text(r, out),
        CheckFormat::Json => json(r, out),
        CheckFormat::Junit => junit(r, out),
        CheckFormat::Github => github(r, out),
    }
}

fn describe(c: &Change) -> String {
    match (&c.before, &c.after) {
        (Some(b), Some(a)) => format!("before: {b}; after: {a}"),
        (Some(b), None) => format!("gone, was: {b}"),
        (None, Some(a)) => a.clone(),
        (None, None) => String::new(),
    }
}

/// Grouped by kind, one line per change, and a closing verdict.
pub fn text(r: &CheckResult<'_>, out: &mut dyn Write) -> Result<(), RenderError> {
    if r.changes.is_empty() {
        writeln!(out, "no changes")?;
        return Ok(());
    }
    for kind in ChangeKind::ALL {
        let n = r.changes.count(kind);
        if n == 0 {
            continue;
        }
        let gate = if r.fails(kind) { "" } else { ", not failing" };
        writeln!(out, "{kind} ({n}{gate}): {}", kind.title())?;
        for c in r.changes.of(kind) {
            writeln!(out, "  {}", printable(&c.key))?;
            match (&c.before, &c.after) {
                (Some(b), Some(a)) => {
                    writeln!(out, "    before: {}", printable(b))?;
                    writeln!(out, "    after:  {}", printable(a))?;
                }
                (Some(b), None) => writeln!(out, "    was: {}", printable(b))?,
                (None, Some(a)) => writeln!(out, "    now: {}", printable(a))?,
                (None, None) => {}
            }
        }
    }
    let total = r.changes.changes.len();
    let failing = r.failing();
    writeln!(
        out,
        "{total} change{} ({failing} selected by --fail-on)",
        if total == 1 { "" } else { "s" }
    )?;
    Ok(())
}

#[derive(Serialize)]
struct JsonOut<'a> {
    schema: &'static str,
    schema_version: u32,
    failed: bool,
    fail_on: &'a [ChangeKind],
    counts: std::collections::BTreeMap<&'static str, usize>,
    changes: &'a [Change],
}

/// Version of the `kbscan check --format json` layout.
pub const CHECK_SCHEMA_VERSION: u32 = 1;

pub fn json(r: &CheckResult<'_>, out: &mut dyn Write) -> Result<(), RenderError> {
    let o = JsonOut {
        schema: "kbscan-check",
        schema_version: CHECK_SCHEMA_VERSION,
        failed: r.failing() > 0,
        fail_on: r.fail_on,
        counts: ChangeKind::ALL
            .into_iter()
            .map(|k| (k.as_str(), r.changes.count(k)))
            .collect(),
        changes: &r.changes.changes,
    };
    serde_json::to_writer_pretty(&mut *out, &o)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry at
/// all (controls other than tab, LF, CR) become U+FFFD rather than invalid markup.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' => o.push_str("&#9;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// One `<testsuite>` named `kbscan check`, one `<testcase>` per change kind; a kind with
/// changes that `--fail-on` selects is a `<failure>`, one with unselected changes passes
/// and lists them in `<system-out>`.
pub fn junit(r: &CheckResult<'_>, out: &mut dyn Write) -> Result<(), RenderError> {
    let failures = ChangeKind::ALL
        .into_iter()
        .filter(|k| r.fails(*k) && r.changes.count(*k) > 0)
        .count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="kbscan" tests="{}" failures="{failures}" errors="0">"#,
        ChangeKind::ALL.len()
    )?;
    writeln!(
        out,
        r#"  <testsuite name="kbscan check" tests="{}" failures="{failures}" errors="0" skipped="0">"#,
        ChangeKind::ALL.len()
    )?;
    for kind in ChangeKind::ALL {
        let n = r.changes.count(kind);
        writeln!(
            out,
            r#"    <testcase classname="kbscan.check" name="{kind}: {}">"#,
            xml_escape(kind.title())
        )?;
        if n > 0 {
            let body: String = r
                .changes
                .of(kind)
                .map(|c| format!("{}: {}\n", c.key, describe(c)))
                .collect();
            if r.fails(kind) {
                writeln!(
                    out,
                    r#"      <failure message="{n} {kind} change{}" type="{kind}">{}</failure>"#,
                    if n == 1 { "" } else { "s" },
                    xml_escape(&body)
                )?;
            } else {
                writeln!(out, "      <system-out>{}</system-out>", xml_escape(&body))?;
            }
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")?;
    Ok(())
}

/// Escapes a workflow-command message (data): `%`, CR and LF.
pub fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value: as data, plus `:` and `,`.
pub fn gh_escape_property(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One annotation per change: `::error` for kinds `--fail-on` selects, `::warning` for
/// the others, attached to the input file when the change has one.
pub fn github(r: &CheckResult<'_>, out: &mut dyn Write) -> Result<(), RenderError> {
    if r.changes.is_empty() {
        writeln!(out, "::notice title=kbscan check::no changes")?;
        return Ok(());
    }
    for c in &r.changes.changes {
        let level = if r.fails(c.kind) { "error" } else { "warning" };
        let mut props = Vec::new();
        if let Some(f) = r.file_path(c) {
            props.push(format!("file={}", gh_escape_property(&f)));
        }
        props.push(format!(
            "title={}",
            gh_escape_property(&format!("kbscan check: {}", c.kind))
        ));
        let msg = format!("{}: {}", c.key, describe(c));
        writeln!(
            out,
            "::{level} {}::{}",
            props.join(","),
            gh_escape_data(&msg)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping_follows_the_workflow_command_rules() {
        assert_eq!(gh_escape_data("a%b\r\nc:d,e"), "a%25b%0D%0Ac:d,e");
        assert_eq!(gh_escape_property("a%b\r\nc:d,e"), "a%25b%0D%0Ac%3Ad%2Ce");
    }

    #[test]
    fn xml_escaping_covers_markup_and_controls() {
        assert_eq!(
            xml_escape("<a href='x'>&\"\u{1}"),
            "&lt;a href=&apos;x&apos;&gt;&amp;&quot;\u{FFFD}"
        );
    }
}
