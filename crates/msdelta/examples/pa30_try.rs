//! Dev tool for a delta that fails: runs the PE pipeline of one delta against one basis
//! without the hash check, prints the forward map and the copy rift, and writes
//! `T(basis)` and the output for inspection (the output is NOT verified; it only says
//! whether its MD5 matched): `cargo run --release -p kbscan-msdelta --example pa30-try
//! -- DELTA BASIS OUTDIR`.
use md5::{Digest, Md5};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let delta = std::fs::read(&a[0]).unwrap();
    let basis = std::fs::read(&a[1]).unwrap();
    let out = std::path::Path::new(&a[2]);
    let f = kbscan_msdelta::parse_framing(&delta).unwrap();
    let pre = kbscan_msdelta::rift::parse_pe_preprocess(&delta[f.preprocess.clone()]).unwrap();
    println!(
        "rva_rift {:x?}",
        pre.rva_rift
            .iter()
            .map(|e| (e.source, e.target))
            .collect::<Vec<_>>()
    );
    if let Some(pe) = kbscan_msdelta::pe::PeImage::parse(&basis) {
        let mut io: Vec<kbscan_msdelta::rift::RiftEntry> = vec![kbscan_msdelta::rift::RiftEntry {
            source: 0,
            target: 0,
        }];
        for s in &pe.sections {
            if s.va != 0 && s.raw_off != 0 {
                io.push(kbscan_msdelta::rift::RiftEntry {
                    source: s.raw_off.into(),
                    target: s.va.into(),
                });
            }
        }
        io.sort_by_key(|e| e.source);
        let f = kbscan_msdelta::rift::compose(
            &kbscan_msdelta::rift::compose(&io, &pre.rva_rift).unwrap(),
            &pre.pe_rift,
        )
        .unwrap();
        println!(
            "forward {:?}",
            f.iter().map(|e| (e.source, e.target)).collect::<Vec<_>>()
        );
    }
    let p = kbscan_msdelta::source::prepare(&basis, &pre, f.header.flags).unwrap();
    println!(
        "copy_rift {:x?}",
        p.copy_rift
            .iter()
            .map(|e| (e.source, e.target))
            .collect::<Vec<_>>()
    );
    let mut data = kbscan_msdelta::lzx::decode(
        &delta[f.patch.clone()],
        &p.source,
        f.header.target_size as usize,
        &p.copy_rift,
    )
    .unwrap();
    if f.header.flags & 1 != 0 {
        kbscan_msdelta::transform::undo_e8(&mut data);
    }
    let got: [u8; 16] = Md5::digest(&data).into();
    println!("md5 ok: {}", got[..] == f.header.hash[..]);
    std::fs::write(out.join("tsource"), &p.source).unwrap();
    std::fs::write(out.join("output"), &data).unwrap();
}
