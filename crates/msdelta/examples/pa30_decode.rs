//! Decodes PA30 deltas against nothing and reports each outcome and the speed:
//! `cargo run --release -p kbscan-msdelta --example pa30-decode -- BLOB... [-o DIR]`.
use std::time::Instant;

fn main() {
    let mut out_dir = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "-o" {
            out_dir = args.next();
        } else {
            files.push(a);
        }
    }
    let (mut bytes, mut secs) = (0u64, 0f64);
    for f in &files {
        let data = match std::fs::read(f) {
            Ok(d) => d,
            Err(e) => {
                println!("{f}: {e}");
                continue;
            }
        };
        let t = Instant::now();
        let r = kbscan_msdelta::apply(&data, None);
        let dt = t.elapsed().as_secs_f64();
        match r {
            Ok(d) => {
                bytes += d.data.len() as u64;
                secs += dt;
                println!(
                    "{f}: ok {} bytes, md5 verified {}, e8 sites {}, {:.1} ms",
                    d.data.len(),
                    d.md5_verified,
                    d.e8_sites,
                    dt * 1e3
                );
                if let Some(dir) = &out_dir {
                    let name = std::path::Path::new(f).file_name().unwrap();
                    std::fs::write(std::path::Path::new(dir).join(name), &d.data).unwrap();
                }
            }
            Err(e) => println!("{f}: {} {e}", e.kind()),
        }
    }
    if secs > 0.0 {
        println!(
            "decoded {bytes} bytes in {secs:.3} s: {:.1} MB/s",
            bytes as f64 / secs / 1e6
        );
    }
}
