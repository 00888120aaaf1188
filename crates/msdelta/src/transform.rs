//! Output transforms of PA30 targets.

/// `IMAGE_FILE_MACHINE_I386`.
const MACHINE_I386: u16 = 0x014c;

/// Machine field of a PE image, read by hand (no full parse).
fn pe_machine(buf: &[u8]) -> Option<u16> {
    let lfanew = u32::from_le_bytes(buf.get(0x3c..0x40)?.try_into().ok()?) as usize;
    if buf.get(lfanew..lfanew.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let m = buf.get(lfanew + 4..lfanew + 6)?;
    Some(u16::from_le_bytes([m[0], m[1]]))
}

/// Undoes the x86 `CALL` translation (`DELTA_FLAG_E8`), the classic LZX E8 filter
/// with the target size as translation size: scanning the whole buffer except its
/// last 10 bytes, each `0xE8` byte at offset `i` is followed by a 32-bit value `v`;
/// when `-i <= v < size` it is turned back into a relative displacement (`v - i` when
/// `v >= 0`, else `v + size`, 32-bit wrapping), and the scan resumes after the 4
/// operand bytes (also when the value was left alone).
///
/// Applied to i386 PE images only (machine `0x14c` in the decoded header), which is
/// the one case seen in genuine deltas; the target hash decides whether it was right.
/// Returns the number of sites translated.
pub fn undo_e8(buf: &mut [u8]) -> u32 {
    if pe_machine(buf) != Some(MACHINE_I386) {
        return 0;
    }
    let len = buf.len();
    if !(10..=i32::MAX as usize).contains(&len) {
        return 0;
    }
    let size = len as i32;
    let mut sites = 0;
    let mut i = 0usize;
    while i < len - 10 {
        if buf[i] != 0xe8 {
            i += 1;
            continue;
        }
        let v = i32::from_le_bytes([buf[i + 1], buf[i + 2], buf[i + 3], buf[i + 4]]);
        let at = i as i32;
        if v >= -at && v < size {
            let rel = if v >= 0 {
                v.wrapping_sub(at)
            } else {
                v.wrapping_add(size)
            };
            buf[i + 1..i + 5].copy_from_slice(&rel.to_le_bytes());
            sites += 1;
        }
        i += 5;
    }
    sites
}
