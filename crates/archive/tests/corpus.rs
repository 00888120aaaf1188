//! The committed fixture corpus, read by the archive crate alone.

use kbscan_archive::cab::Cabinet;
use kbscan_archive::Limits;

/// The 2,000-file solid folder of `corpus/synthetic/bulk`: delivering every file costs
/// exactly one decode of each data block (the O(n²) trap of re-decoding from the
/// folder start per file would decode ~n/2 times more). A counter, not a timing.
#[test]
fn two_thousand_file_folder_is_decoded_once() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../corpus/synthetic/bulk/many-files-2000.cab"
    );
    let bytes = std::fs::read(path).expect("committed corpus file");
    let cab = Cabinet::parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(cab.files.len(), 2000);
    assert_eq!(cab.folders.len(), 1);
    let mut delivered = 0usize;
    let mut total = 0u64;
    let report = cab.walk(&mut |_, data| {
        delivered += 1;
        total += data.len() as u64;
    });
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(delivered, 2000);
    assert_eq!(report.stats.folders_decoded, 1);
    assert_eq!(
        report.stats.blocks_decoded,
        u64::from(cab.folders[0].block_count)
    );
    assert_eq!(report.stats.bytes_decoded, total);
}
