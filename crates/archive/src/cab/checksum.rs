//! The MS-CAB CFDATA checksum.
//!
//! MS-CAB defines it as an XOR of the input taken as little-endian 32-bit words; the 1-3
//! trailing bytes are folded into one final word with the *first* trailing byte most
//! significant. A block's checksum covers its compressed bytes first, then (seeded with that
//! result) the 4 bytes `cbData`/`cbUncomp` that follow `csum` in the block header.

pub(crate) fn checksum(data: &[u8], seed: u32) -> u32 {
    let mut sum = seed;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    let tail = words
        .remainder()
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    sum ^ tail
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn words_xor_and_tail_order() {
        assert_eq!(checksum(&[1, 0, 0, 0, 2, 0, 0, 0], 0), 3);
        // Tail of three bytes: first byte lands in bits 16..24.
        assert_eq!(checksum(&[0xAA, 0xBB, 0xCC], 0), 0x00AA_BBCC);
        assert_eq!(checksum(&[0xAA], 0x100), 0x1AA);
    }
}
