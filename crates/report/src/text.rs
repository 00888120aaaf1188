//! Fixed-width text for terminals: one [`Table`] type, middle truncation ([`fit`]) and word
//! wrap ([`wrap`]), every one measuring **display width** ([`width`], from `unicode-width`)
//! rather than bytes or `char`s.
//!
//! Counting `char`s misaligns a column as soon as a name holds an East Asian wide
//! character (`日本語.dll` takes six columns, not three) or a combining mark (`é` written
//! as `e` + U+0301 takes one column, not two); Rust's `{:<w$}` padding counts `char`s too,
//! so nothing here uses it. For ASCII, display width is the byte count, so these
//! primitives lay out ASCII exactly as the hand-written tables they replaced did (the
//! report snapshots in `tests/snapshots/` hold them to that).
//!
//! Strings reach these functions already made [`printable`](crate::printable): control
//! characters, which have no display width, are escaped before anything is measured.

use std::io::{self, Write};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The widest line the report and history tables write: a 100-column terminal.
pub const TABLE_WIDTH: usize = 100;

/// Space between two columns.
const GAP: &str = "  ";

/// A shrinking column never gets narrower than its header or this, whichever is wider:
/// below it a cut name no longer tells anything apart.
const MIN_SHRUNK: usize = 8;

/// The number of terminal columns `s` takes.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Shortens `s` to at most `w` columns by cutting its middle (`…`): both the start (a
/// component family) and the end (a file name, an architecture) tell things apart. A
/// string that fits, or a `w` below 3, is returned unchanged.
///
/// The cut falls between characters, by display width: a wide character that would
/// straddle the cut is left out whole (the result is then a column narrower than `w`),
/// and a combining mark stays with the character it belongs to.
pub fn fit(s: &str, w: usize) -> String {
    if width(s) <= w || w < 3 {
        return s.to_string();
    }
    let head_budget = (w - 1) / 2;
    let mut head = 0;
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let cw = char_width(c);
        if used + cw > head_budget {
            break;
        }
        used += cw;
        head = i + c.len_utf8();
    }
    // The tail gets whatever the head could not use (a wide character at the cut).
    let tail_budget = w - 1 - used;
    let mut tail = s.len();
    let mut used = 0;
    for (i, c) in s[head..].char_indices().rev() {
        let cw = char_width(c);
        if used + cw > tail_budget {
            break;
        }
        used += cw;
        tail = head + i;
    }
    // Marks whose base character was cut off would combine with the `…`.
    let tail_text = s[tail..].trim_start_matches(|c: char| char_width(c) == 0);
    format!("{}…{}", &s[..head], tail_text)
}

/// Greedy word wrap to `w` columns; a word wider than `w` gets a line of its own.
pub fn wrap(text: &str, w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && width(&line) + 1 + width(word) > w {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Where a cell sits in its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Right,
}

/// What a table does with a line wider than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// `column` gives up width (down to its header's width or [`MIN_SHRUNK`]) and its
    /// cells are cut in the middle ([`fit`]); the other columns keep their width.
    Shrink { column: usize, width: usize },
    /// Each line is laid out in full, then cut in the middle as a whole.
    CutLines { width: usize },
}

#[derive(Debug, Clone)]
enum Row {
    Cells(Vec<String>),
    /// A line of its own across the columns, starting at the indent (history's markers).
    Note(String),
}

/// Aligned columns: each as wide as its widest cell (header included), two spaces apart,
/// the last one not padded, the whole block indented.
///
/// Lines end at their last non-blank character unless [`keep_trailing_blanks`] says
/// otherwise. With a limit ([`shrink`] or [`cut_lines`]) lines stay within it.
///
/// [`keep_trailing_blanks`]: Table::keep_trailing_blanks
/// [`shrink`]: Table::shrink
/// [`cut_lines`]: Table::cut_lines
#[derive(Debug, Clone)]
pub struct Table<'a> {
    headers: Vec<&'a str>,
    show_header: bool,
    align: Vec<Align>,
    indent: usize,
    limit: Option<Limit>,
    trim: bool,
    rows: Vec<Row>,
}

impl<'a> Table<'a> {
    /// A table with a header line, every column left-aligned.
    pub fn new(headers: &[&'a str]) -> Self {
        Table {
            headers: headers.to_vec(),
            show_header: true,
            align: Vec::new(),
            indent: 0,
            limit: None,
            trim: true,
            rows: Vec::new(),
        }
    }

    /// A table without a header line (key/value lines).
    pub fn without_header() -> Self {
        Table {
            show_header: false,
            ..Table::new(&[])
        }
    }

    /// Spaces before every line.
    pub fn indent(mut self, n: usize) -> Self {
        self.indent = n;
        self
    }

    pub fn align(mut self, column: usize, align: Align) -> Self {
        if self.align.len() <= column {
            self.align.resize(column + 1, Align::Left);
        }
        self.align[column] = align;
        self
    }

    /// Keeps lines within `width` columns by narrowing `column` and cutting its cells in
    /// the middle; a line can still be wider when the other columns alone are.
    pub fn shrink(mut self, column: usize, width: usize) -> Self {
        self.limit = Some(Limit::Shrink { column, width });
        self
    }

    /// Keeps lines within `width` columns by cutting each longer line in its middle.
    pub fn cut_lines(mut self, width: usize) -> Self {
        self.limit = Some(Limit::CutLines { width });
        self
    }

    /// Leaves a last cell's trailing blanks on its line. The report summary has always
    /// been written this way (`series       0: ` for an empty scan), and its bytes are kept.
    pub fn keep_trailing_blanks(mut self) -> Self {
        self.trim = false;
        self
    }

    /// Adds a row; a row may have fewer cells than there are columns.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows
            .push(Row::Cells(cells.into_iter().map(Into::into).collect()));
    }

    /// Adds rows.
    pub fn rows<R, S>(mut self, rows: impl IntoIterator<Item = R>) -> Self
    where
        R: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for r in rows {
            self.row(r);
        }
        self
    }

    /// Adds a line that spans the columns, starting at the indent; under a limit it is cut
    /// in the middle to fit.
    pub fn note(&mut self, text: impl Into<String>) {
        self.rows.push(Row::Note(text.into()));
    }

    fn columns(&self) -> usize {
        let widest_row = self.rows.iter().map(|r| match r {
            Row::Cells(c) => c.len(),
            Row::Note(_) => 0,
        });
        widest_row.fold(self.headers.len(), usize::max)
    }

    fn align_of(&self, column: usize) -> Align {
        self.align.get(column).copied().unwrap_or_default()
    }

    /// Column widths: the widest cell of each column, header included; notes do not count.
    fn widths(&self) -> Vec<usize> {
        let mut widths = vec![0; self.columns()];
        if self.show_header {
            for (w, h) in widths.iter_mut().zip(&self.headers) {
                *w = width(h);
            }
        }
        for r in &self.rows {
            if let Row::Cells(cells) = r {
                for (w, c) in widths.iter_mut().zip(cells) {
                    *w = (*w).max(width(c));
                }
            }
        }
        if let Some(Limit::Shrink { column, width: max }) = self.limit {
            let last = widths.len().saturating_sub(1);
            let total = self.indent + widths.iter().sum::<usize>() + GAP.len() * last;
            if total > max && column < widths.len() {
                let header = self.headers.get(column).map_or(0, |h| width(h));
                let min = header.max(MIN_SHRUNK);
                widths[column] = widths[column].saturating_sub(total - max).max(min);
            }
        }
        widths
    }

    fn cells_line<S: AsRef<str>>(&self, cells: &[S], widths: &[usize]) -> String {
        let last = widths.len().saturating_sub(1);
        let mut line = " ".repeat(self.indent);
        for (i, cell) in cells.iter().enumerate() {
            let cell = cell.as_ref();
            let cell = match self.limit {
                Some(Limit::Shrink { column, .. }) if column == i => fit(cell, widths[i]),
                _ => cell.to_string(),
            };
            let pad = " ".repeat(widths[i].saturating_sub(width(&cell)));
            match self.align_of(i) {
                Align::Left if i == last => line.push_str(&cell),
                Align::Left => {
                    line.push_str(&cell);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(&cell);
                }
            }
            if i != last {
                line.push_str(GAP);
            }
        }
        self.finish_line(line)
    }

    fn finish_line(&self, mut line: String) -> String {
        if self.trim {
            line.truncate(line.trim_end().len());
        }
        match self.limit {
            Some(Limit::CutLines { width }) => fit(&line, width),
            _ => line,
        }
    }

    /// The lines of the table, without line ends.
    pub fn lines(&self) -> Vec<String> {
        let widths = self.widths();
        let mut lines = Vec::with_capacity(self.rows.len() + 1);
        if self.show_header {
            lines.push(self.cells_line(&self.headers, &widths));
        }
        for r in &self.rows {
            lines.push(match r {
                Row::Cells(cells) => self.cells_line(cells, &widths),
                Row::Note(text) => {
                    let text = match self.limit {
                        Some(Limit::Shrink { width, .. } | Limit::CutLines { width }) => {
                            fit(text, width.saturating_sub(self.indent))
                        }
                        None => text.clone(),
                    };
                    let mut line = " ".repeat(self.indent);
                    line.push_str(&text);
                    if self.trim {
                        line.truncate(line.trim_end().len());
                    }
                    line
                }
            });
        }
        lines
    }

    /// Writes the table, one `\n`-terminated line per row (and one for the header).
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        for line in self.lines() {
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &Table<'_>) -> String {
        let mut buf = Vec::new();
        t.write(&mut buf).expect("write to a Vec");
        String::from_utf8(buf).expect("utf8")
    }

    #[test]
    fn fit_cuts_the_middle() {
        let long = "microsoft-windows-terminalservices-drivers";
        assert_eq!(fit(long, 20), "microsoft…es-drivers");
        assert_eq!(fit(long, 20).chars().count(), 20);
        assert_eq!(fit("short", 20), "short");
        assert_eq!(fit(long, 2), long, "too narrow to cut");
    }

    /// The layout the scan table had before this type existed, byte for byte.
    #[test]
    fn ascii_layout_is_unchanged() {
        let t = Table::new(&["KB", "ARCH", "SOURCE"]).rows([
            ["KB4493472", "amd64", "a.msu"],
            ["-", "-", "many-files-2000.cab"],
        ]);
        assert_eq!(
            render(&t),
            "KB         ARCH   SOURCE\n\
             KB4493472  amd64  a.msu\n\
             -          -      many-files-2000.cab\n"
        );
    }

    #[test]
    fn trailing_padding_and_empty_cells_leave_no_blanks() {
        let mut t = Table::new(&["A", "B", "C"]).indent(2);
        t.row(["x", "", ""]);
        t.row(["yyyy"]);
        assert_eq!(render(&t), "  A     B  C\n  x\n  yyyy\n");
    }

    #[test]
    fn wide_characters_align() {
        let t =
            Table::new(&["NAME", "VERSION"]).rows([["日本語.dll", "1.0"], ["ntoskrnl.exe", "2.0"]]);
        let lines = t.lines();
        assert_eq!(width("日本語.dll"), 10);
        assert_eq!(lines[1], "日本語.dll    1.0");
        let col = |l: &str| width(&l[..l.find(['1', '2']).expect("version")]);
        assert_eq!(col(&lines[1]), col(&lines[2]), "{lines:#?}");
        assert_eq!(col(&lines[1]), width("ntoskrnl.exe") + 2);
    }

    #[test]
    fn combining_marks_take_no_column() {
        let decomposed = "re\u{301}sume\u{301}.dll";
        assert_eq!(width(decomposed), "resume.dll".len());
        let t = Table::new(&["NAME", "V"]).rows([[decomposed, "1"], ["resume.dll", "2"]]);
        let lines = t.lines();
        assert_eq!(width(&lines[1]), width(&lines[2]), "{lines:#?}");
        // A mark stays with its base character on either side of a cut.
        let cut = fit("e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}", 5);
        assert_eq!(cut, "e\u{301}e\u{301}…e\u{301}e\u{301}");
        // The mark at the cut lost its base (a wide character that did not fit): it goes too,
        // rather than combine with the `…`.
        assert_eq!(fit("abcdef語\u{301}x", 4), "a…x");
    }

    #[test]
    fn wide_text_is_cut_at_a_character_by_display_width() {
        let s = "日本語日本語日本語.dll";
        for w in 3..width(s) {
            let cut = fit(s, w);
            assert!(width(&cut) <= w, "{w}: {cut:?}");
            assert!(width(&cut) + 1 >= w, "{w}: {cut:?} wastes a column");
            assert!(cut.contains('…'));
        }
        assert_eq!(fit(s, 12), "日本…語.dll");
        assert_eq!(fit(s, 9), "日本….dll");
    }

    #[test]
    fn a_shrinking_column_keeps_the_line_within_the_limit() {
        let long = "x".repeat(200);
        let t = Table::new(&["A", "NAME", "B"])
            .indent(2)
            .shrink(1, TABLE_WIDTH)
            .rows([vec!["1".to_string(), long, "end".into()]]);
        let lines = t.lines();
        assert_eq!(width(&lines[1]), TABLE_WIDTH, "{lines:#?}");
        assert!(width(&lines[0]) <= TABLE_WIDTH, "{lines:#?}");
        assert!(lines[1].contains('…'));
        // Wide characters are cut by columns, not characters.
        let wide = "語".repeat(100);
        let t = Table::new(&["A", "NAME", "B"])
            .indent(2)
            .shrink(1, TABLE_WIDTH)
            .rows([["1", wide.as_str(), "end"]]);
        assert!(t.lines().iter().all(|l| width(l) <= TABLE_WIDTH), "{t:?}");
        assert!(t.lines()[1].ends_with("  end"));
        // Never narrower than the header or 8 columns.
        let t = Table::new(&["A", "NAME", "B"])
            .shrink(1, 10)
            .rows([["1", "abcdefghijkl", "end"]]);
        assert_eq!(t.lines()[1], "1  abc…ijkl  end");
    }

    #[test]
    fn cut_lines_and_notes_stay_within_the_limit() {
        let mut t = Table::new(&["V", "ALSO"]).indent(2).cut_lines(20);
        t.row(["1.0", "KB1,KB2,KB3,KB4,KB5,KB6"]);
        t.note("-- a marker line longer than the limit");
        let lines = t.lines();
        assert_eq!(lines[0], "  V    ALSO");
        assert_eq!(lines[1], "  1.0  KB…B4,KB5,KB6");
        assert_eq!(lines[2], "  -- a mar…the limit");
        assert!(lines.iter().all(|l| width(l) <= 20));
    }

    #[test]
    fn key_value_lines_without_header() {
        let t = Table::without_header()
            .indent(2)
            .cut_lines(TABLE_WIDTH)
            .keep_trailing_blanks()
            .rows([["inputs", "3"], ["build moves", "0: "]]);
        assert_eq!(render(&t), "  inputs       3\n  build moves  0: \n");
    }

    #[test]
    fn right_aligned_columns_pad_on_the_left() {
        let t = Table::new(&["SIZE", "NAME"])
            .align(0, Align::Right)
            .rows([["7", "a"], ["12345", "日本"]]);
        assert_eq!(t.lines(), [" SIZE  NAME", "    7  a", "12345  日本"]);
        let t = Table::new(&["NAME", "SIZE"])
            .align(1, Align::Right)
            .rows([["a", "7"]]);
        assert_eq!(t.lines(), ["NAME  SIZE", "a        7"]);
    }

    #[test]
    fn wrap_measures_display_width() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("日本 語語 x", 5), ["日本", "語語", "x"]);
        assert_eq!(wrap("toolongword x", 4), ["toolongword", "x"]);
    }
}
