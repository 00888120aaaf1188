//! Fixture specs and byte-patching helpers shared by the kbscan-pe integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use kbscan_fixtures::pe::{Machine, PeKind, PeSpec, VersionSpec};

pub const LDR_2019_03: [u16; 4] = [6, 0, 6002, 24566];
pub const BRANCH_2019_03: &str = "vistasp2_ldr_escrow.190311-1800";
pub const LDR_2019_04: [u16; 4] = [6, 0, 6003, 20489];
pub const BRANCH_2019_04: &str = "vistasp2_ldr_escrow.190320-1700";

pub fn spec(machine: Machine, kind: PeKind, name: &str, version: [u16; 4], branch: &str) -> PeSpec {
    PeSpec {
        machine,
        kind,
        timestamp: 0x5C91_2A3B,
        version: Some(VersionSpec::windows(name, "test image", version, branch)),
        body_len: 6000,
        seed: u64::from(version[3]),
    }
}

/// The image most malformed tests start from: x64 driver, 6.0.6003.20489.
pub fn base_spec() -> PeSpec {
    spec(
        Machine::Amd64,
        PeKind::Sys,
        "tcpip.sys",
        LDR_2019_04,
        BRANCH_2019_04,
    )
}

pub fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// File offset of the version block whose key is `key` (the key follows the 6-byte header).
pub fn block_offset(image: &[u8], key: &str) -> usize {
    let needle: Vec<u8> = key
        .encode_utf16()
        .chain(Some(0))
        .flat_map(u16::to_le_bytes)
        .collect();
    let at = image
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap_or_else(|| panic!("key {key:?} not in image"));
    at - 6
}

/// Tiny deterministic PRNG (xorshift64) so mutation tests need no dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
