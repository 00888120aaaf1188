use kbscan_archive::{cab::Cabinet, Limits};
fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.rsplit('/').next().unwrap();
        match Cabinet::parse(&bytes, &Limits::default()) {
            Err(e) => println!("{name}: PARSE {} {e}", e.kind()),
            Ok(cab) => {
                let mut got = vec![];
                let rep = cab.walk(&mut |f, b| got.push(format!("{}({})", f.name, b.len())));
                println!("{name}: ok {:?} gap={} errs={:?} stats={:?}", got, cab.header.file_table_gap,
                    rep.errors.iter().map(|(i, e)| format!("{i}:{}:{e}", e.kind())).collect::<Vec<_>>(), rep.stats);
            }
        }
    }
}
