//! The report's vocabulary, written in one of two styles: fixed-width text for a terminal
//! (headings underlined, prose wrapped to [`TABLE_WIDTH`], [`text::Table`]s) or Markdown
//! (headings, paragraphs and pipe tables, package strings escaped so they cannot become
//! markup). Every section is written once against these functions, so the table and the
//! Markdown report always carry the same content.
//!
//! [`text::Table`]: crate::text::Table

use crate::text::{width, wrap, Table, TABLE_WIDTH};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Table,
    Markdown,
}

/// A block of rows: aligned columns for the table (one column may shrink to keep the
/// line within [`TABLE_WIDTH`]), a pipe table for markdown.
pub(crate) struct Grid<'a> {
    pub(crate) headers: &'a [&'a str],
    pub(crate) rows: Vec<Vec<String>>,
    /// The column that gives up width when the line is too long.
    pub(crate) flex: Option<usize>,
    pub(crate) indent: usize,
}

impl Grid<'_> {
    pub(crate) fn write(&self, style: Style, out: &mut dyn Write) -> std::io::Result<()> {
        match style {
            Style::Markdown => {
                writeln!(out, "| {} |", self.headers.join(" | "))?;
                writeln!(out, "|{}", "---|".repeat(self.headers.len()))?;
                for r in &self.rows {
                    let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
                    writeln!(out, "| {} |", cells.join(" | "))?;
                }
                writeln!(out)
            }
            Style::Table => {
                let mut table = Table::new(self.headers).indent(self.indent);
                if let Some(f) = self.flex {
                    table = table.shrink(f, TABLE_WIDTH);
                }
                table.rows(self.rows.iter()).write(out)
            }
        }
    }
}

pub(crate) fn heading(style: Style, title: &str, out: &mut dyn Write) -> std::io::Result<()> {
    match style {
        Style::Table => {
            let title = title.to_uppercase();
            writeln!(out, "{title}\n{}", "=".repeat(width(&title)))
        }
        Style::Markdown => writeln!(out, "## {title}\n"),
    }
}

pub(crate) fn subheading(style: Style, title: &str, out: &mut dyn Write) -> std::io::Result<()> {
    match style {
        Style::Table => writeln!(out, "{title}"),
        Style::Markdown => writeln!(out, "### {}\n", md(title)),
    }
}

/// A line of prose: indented and word-wrapped in the table, a paragraph in markdown.
pub(crate) fn para(style: Style, text: &str, out: &mut dyn Write) -> std::io::Result<()> {
    match style {
        Style::Table => {
            for line in wrap(text, TABLE_WIDTH - 2) {
                writeln!(out, "  {line}")?;
            }
            Ok(())
        }
        Style::Markdown => writeln!(out, "{}\n", md(text)),
    }
}

/// Markdown would read `*`, `_`, `|`, brackets and HTML tags in package strings as
/// markup. `<` is escaped only where it could open a tag, so `<= 64` stays readable.
pub(crate) fn md(s: &str) -> String {
    let mut r = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let tag = c == '<'
            && chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'));
        if tag || matches!(c, '*' | '_' | '|' | '`' | '[' | ']' | '\\') {
            r.push('\\');
        }
        r.push(c);
    }
    r
}

/// Key/value lines: no header row in the table, a two-column table in markdown.
pub(crate) fn key_values(
    style: Style,
    rows: &[[String; 2]],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match style {
        Style::Markdown => {
            writeln!(out, "| | |\n|---|---|")?;
            for [key, value] in rows {
                writeln!(out, "| {key} | {} |", md(value))?;
            }
            Ok(())
        }
        // Lines keep a trailing blank (`series       0: `): they always have.
        Style::Table => Table::without_header()
            .indent(2)
            .cut_lines(TABLE_WIDTH)
            .keep_trailing_blanks()
            .rows(rows.iter())
            .write(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_markup() {
        assert_eq!(md("a|b*c_d"), "a\\|b\\*c\\_d");
        assert_eq!(md("<script> <= 64 -> x"), "\\<script> <= 64 -> x");
    }

    #[test]
    fn grid_shrinks_the_flex_column_to_the_width() {
        let long = "x".repeat(200);
        let g = Grid {
            headers: &["A", "NAME", "B"],
            rows: vec![vec!["1".into(), long, "end".into()]],
            flex: Some(1),
            indent: 2,
        };
        let mut buf = Vec::new();
        g.write(Style::Table, &mut buf).expect("write");
        let text = String::from_utf8(buf).expect("utf8");
        assert!(text.lines().all(|l| width(l) <= TABLE_WIDTH), "{text}");
        assert!(text.contains('…'));
    }
}
