//! Names of the `DELTA_FILE_TYPE_*`, `DELTA_FILE_TYPE_SET_*`, `DELTA_FLAG_*` and `ALG_ID`
//! values a PA30 header carries (values as published in Microsoft's `msdelta.h`).

/// `DELTA_FILE_TYPE_*` bits.
const FILE_TYPES: &[(u64, &str)] = &[
    (0x01, "raw"),
    (0x02, "i386"),
    (0x04, "ia64"),
    (0x08, "amd64"),
    (0x10, "cli4-i386"),
    (0x20, "cli4-amd64"),
    (0x40, "cli4-arm"),
    (0x80, "cli4-arm64"),
];

/// `DELTA_FLAG_*` bits (create-time transform flags).
const FLAGS: &[(u64, &str)] = &[
    (0x0000_0001, "E8"),
    (0x0000_0002, "MARK"),
    (0x0000_0004, "IMPORTS"),
    (0x0000_0008, "EXPORTS"),
    (0x0000_0010, "RESOURCES"),
    (0x0000_0020, "RELOCS"),
    (0x0000_0040, "I386_SMASHLOCK"),
    (0x0000_0080, "I386_JMPS"),
    (0x0000_0100, "I386_CALLS"),
    (0x0000_0200, "AMD64_DISASM"),
    (0x0000_0400, "AMD64_PDATA"),
    (0x0000_0800, "IA64_DISASM"),
    (0x0000_1000, "IA64_PDATA"),
    (0x0000_2000, "UNBIND"),
    (0x0000_4000, "CLI_DISASM"),
    (0x0000_8000, "CLI_METADATA"),
    (0x0001_0000, "CLI_HEADERS"),
    (0x0002_0000, "IGNORE_FILE_SIZE_LIMIT"),
    (0x0004_0000, "IGNORE_OPTIONS_SIZE_LIMIT"),
    (0x0008_0000, "ARM_DISASM"),
    (0x0010_0000, "ARM_PDATA"),
    (0x0020_0000, "CLI4_METADATA"),
    (0x0040_0000, "CLI4_DISASM"),
    (0x0080_0000, "ARM64_DISASM"),
    (0x0100_0000, "ARM64_PDATA"),
];

/// Name of a single `DELTA_FILE_TYPE_*` value (`raw`, `i386`, `amd64`, ...).
pub fn file_type_name(t: u64) -> Option<&'static str> {
    FILE_TYPES.iter().find(|(v, _)| *v == t).map(|(_, n)| *n)
}

/// Name of a `DELTA_FILE_TYPE_SET_*` value.
pub fn file_type_set_name(set: u64) -> Option<&'static str> {
    Some(match set {
        0x01 => "raw-only",
        0x0f => "executables-1",
        0x75 => "executables-2",
        0xf5 => "executables-3",
        _ => return None,
    })
}

/// Names of the set `DELTA_FLAG_*` bits, low bit first; unknown bits as `0x…`.
pub fn flag_names(flags: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut known = 0u64;
    for (bit, name) in FLAGS {
        known |= bit;
        if flags & bit != 0 {
            out.push((*name).to_string());
        }
    }
    if flags & !known != 0 {
        out.push(format!("{:#x}", flags & !known));
    }
    out
}

/// Name of a Windows `ALG_ID` hash algorithm.
pub fn hash_alg_name(alg: u32) -> Option<&'static str> {
    Some(match alg {
        0 => "none",
        0x8001 => "MD2",
        0x8002 => "MD4",
        0x8003 => "MD5",
        0x8004 => "SHA1",
        0x800c => "SHA256",
        0x800d => "SHA384",
        0x800e => "SHA512",
        _ => return None,
    })
}
