//! `kbscan history FILE` as a table: every version of one file name, per architecture, in
//! version order, where it first appeared and where else, with a marker line wherever a
//! build move reset the revision or another OS version line begins. Long lines are cut in
//! the middle to [`TABLE_WIDTH`] (the JSON has everything).

use crate::error::RenderError;
use crate::format::{list_kbs, package_date, package_label, printable, signed, track_and_counter};
use crate::text::{Table, TABLE_WIDTH};
use kbscan_analysis::History;
use std::io::Write;

/// The table of `kbscan history`: one block per architecture, one row per version.
pub(crate) fn table(h: &History, out: &mut dyn Write) -> Result<(), RenderError> {
    let versions: usize = h.architectures.iter().map(|a| a.entries.len()).sum();
    writeln!(
        out,
        "{}: {} copies, {} distinct versions in {} architectures{}",
        printable(&h.name),
        h.matches,
        versions,
        h.architectures.len(),
        if h.unversioned > 0 {
            format!(" ({} without a version)", h.unversioned)
        } else {
            String::new()
        }
    )?;
    if h.architectures.is_empty() {
        writeln!(out, "  no file of that name in the scanned packages")?;
    }
    for arch in &h.architectures {
        writeln!(out)?;
        writeln!(out, "{}", printable(&arch.architecture))?;
        // Whole lines are cut, as this table always has been; shrinking ALSO IN instead
        // would keep the numbers whole when that list is long, but changes the output.
        let mut table = Table::new(&[
            "VERSION", "BUILD", "TRACK", "CTR", "LEFT", "TO 65535", "FIRST IN", "DATE", "ALSO IN",
        ])
        .indent(2)
        .cut_lines(TABLE_WIDTH);
        let mut line: Option<(u16, u16)> = None;
        for e in &arch.entries {
            let this = (e.version.major, e.version.minor);
            if line.is_some_and(|l| l != this) {
                table.note(format!("-- {}.{}: another OS version line", this.0, this.1));
            }
            line = Some(this);
            if let Some(mv) = &e.build_move {
                table.note(format!(
                    "-- build move {} -> {}: revision {} -> {} ({})",
                    mv.from,
                    e.build,
                    mv.previous.revision,
                    e.version.revision,
                    signed(mv.reset)
                ));
            }
            let (track, counter) = track_and_counter(e.nt6);
            let also: Vec<String> = e.packages.iter().skip(1).map(|p| p.label()).collect();
            table.row([
                e.version.to_string(),
                e.build.to_string(),
                track,
                counter,
                e.headroom.to_string(),
                e.revision_headroom.to_string(),
                package_label(&e.first),
                package_date(&e.first),
                list_kbs(&also, 2),
            ]);
        }
        table.write(out)?;
    }
    Ok(())
}
