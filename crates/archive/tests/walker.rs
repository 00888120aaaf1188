//! The one container walker: nesting, limits, names and hook order, on cabinets and ZIPs
//! written by the fixtures crate.

use kbscan_archive::limits::{Budget, MemoryBudget};
use kbscan_archive::walker::{Container, Flow, Kind, Member, Sink, WalkError, Walker};
use kbscan_archive::{Limits, NestedPath, Source};
use kbscan_fixtures::cab::{write_cab, CabFile, CabFolder, CabSpec, Compression};
use kbscan_fixtures::corpus::zip_bytes;

fn cab(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    write_cab(&CabSpec {
        folders: vec![CabFolder {
            compression: Compression::MsZip,
            files: members
                .iter()
                .map(|(n, d)| CabFile::new(*n, d.clone()))
                .collect(),
        }],
        set_id: 1,
        reserve: None,
    })
}

/// Records every hook as a line, descends into every container, optionally stops.
#[derive(Default)]
struct Log {
    lines: Vec<String>,
    stop_at: Option<String>,
    spilled: Vec<String>,
}

impl Sink for Log {
    fn enter(&mut self, c: &Container<'_, '_>) -> Flow {
        self.lines
            .push(format!("enter {} {:?} d{}", c.path, c.kind, c.depth));
        Flow::Continue
    }
    fn member(&mut self, m: &Member<'_>) -> Flow {
        self.lines
            .push(format!("member {} ({} bytes)", m.path, m.data.len()));
        if m.data.as_slice().is_none() {
            self.spilled.push(m.path.to_string());
        }
        if self.stop_at.as_deref() == Some(m.name) {
            return Flow::Stop;
        }
        Flow::Descend
    }
    fn leave(&mut self, c: &Container<'_, '_>) {
        self.lines.push(format!("leave {}", c.path));
    }
    fn error(&mut self, e: WalkError) -> Flow {
        self.lines
            .push(format!("error {} [{}] {}", e.path, e.issue.kind(), e.issue));
        Flow::Continue
    }
}

fn walk(bytes: &[u8], limits: Limits, max_depth: u32, sink: &mut Log) -> Flow {
    Walker::new(limits, max_depth).walk(Source::Mem(bytes), &NestedPath::new("in"), 0, sink)
}

#[test]
fn zip_of_msu_of_payload_is_walked_in_order_with_errors_before_leave() {
    let payload = cab(&[
        ("update.mum", b"<assembly/>".to_vec()),
        ("a\\x.dll", b"MZ".to_vec()),
    ]);
    let msu = cab(&[("p.cab", payload), ("WSUSSCAN.cab", cab(&[("s", vec![1])]))]);
    let zip = zip_bytes(&[
        ("dir/k.msu".into(), msu),
        ("readme.txt".into(), b"hi".to_vec()),
        ("../evil.msu".into(), b"MSCF".to_vec()),
    ]);
    let mut log = Log::default();
    assert_eq!(walk(&zip, Limits::default(), 6, &mut log), Flow::Continue);
    let want = [
        "enter in Zip d0",
        "member in!dir/k.msu (",
        "enter in!dir/k.msu Cab d1",
        "member in!dir/k.msu!p.cab (",
        "enter in!dir/k.msu!p.cab Cab d2",
        "member in!dir/k.msu!p.cab!update.mum (11 bytes)",
        "member in!dir/k.msu!p.cab!a\\x.dll (2 bytes)",
        "leave in!dir/k.msu!p.cab",
        "member in!dir/k.msu!WSUSSCAN.cab (",
        "enter in!dir/k.msu!WSUSSCAN.cab Cab d2",
        "member in!dir/k.msu!WSUSSCAN.cab!s (1 bytes)",
        "leave in!dir/k.msu!WSUSSCAN.cab",
        "leave in!dir/k.msu",
        "member in!readme.txt (2 bytes)",
        "error in!../evil.msu [unsafe_member_name] ZIP member name rejected: path traversal ('..' component)",
        "leave in",
    ];
    assert_eq!(log.lines.len(), want.len(), "{:#?}", log.lines);
    for (got, want) in log.lines.iter().zip(want) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
}

#[test]
fn nesting_stops_at_the_depth_limit_with_an_error_at_the_member() {
    let mut inner = cab(&[("leaf.txt", b"leaf".to_vec())]);
    for _ in 0..4 {
        inner = cab(&[("n.cab", inner)]);
    }
    let mut log = Log::default();
    walk(&inner, Limits::default(), 2, &mut log);
    let errors: Vec<_> = log
        .lines
        .iter()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(
        errors,
        ["error in!n.cab!n.cab!n.cab [limit_nesting_depth] containers nest deeper than the limit of 2 (max_depth)"]
    );
    assert!(!log.lines.iter().any(|l| l.contains("leaf.txt")));
    assert_eq!(
        log.lines.iter().filter(|l| l.starts_with("enter")).count(),
        3
    );
}

#[test]
fn duplicate_names_are_reported_and_both_members_handed_out() {
    let c = cab(&[
        ("dir\\same.txt", b"first".to_vec()),
        ("DIR/SAME.TXT", b"second".to_vec()),
        ("other.txt", b"x".to_vec()),
    ]);
    let mut log = Log::default();
    walk(&c, Limits::default(), 6, &mut log);
    let got: Vec<_> = log
        .lines
        .iter()
        .filter(|l| !l.starts_with("enter") && !l.starts_with("leave"))
        .collect();
    assert_eq!(
        got,
        [
            "member in!dir\\same.txt (5 bytes)",
            "error in!DIR/SAME.TXT [duplicate_member_name] member 1 has the same name as member 0 (\"dir\\\\same.txt\"); both are read",
            "member in!DIR/SAME.TXT (6 bytes)",
            "member in!other.txt (1 bytes)",
        ]
    );
}

/// Issue 15: a table of millions of members must end with a named limit, not with the
/// machine out of memory; the budget counts members of every nesting level of the input.
#[test]
fn the_record_budget_stops_the_walk_across_nesting_levels() {
    let leaf = cab(&(0..10)
        .map(|i| {
            (
                Box::leak(format!("f{i}").into_boxed_str()) as &str,
                vec![i as u8],
            )
        })
        .collect::<Vec<_>>());
    let top = cab(&[
        ("a.cab", leaf.clone()),
        ("b.cab", leaf.clone()),
        ("c.cab", leaf),
    ]);
    let limits = Limits {
        records: Some(Budget::new(15)),
        ..Limits::default()
    };
    let mut log = Log::default();
    assert_eq!(walk(&top, limits, 6, &mut log), Flow::Stop);
    let members = log.lines.iter().filter(|l| l.starts_with("member")).count();
    assert_eq!(members, 15, "{:#?}", log.lines);
    assert_eq!(
        log.lines.last().map(String::as_str),
        Some("error in!b.cab!f3 [limit_records] limit max_records exceeded: more than 15 members in one input")
    );
}

#[test]
fn a_sink_can_stop_the_walk() {
    let c = cab(&[("a", vec![1]), ("stop", vec![2]), ("c", vec![3])]);
    let mut log = Log {
        stop_at: Some("stop".into()),
        ..Log::default()
    };
    assert_eq!(walk(&c, Limits::default(), 6, &mut log), Flow::Stop);
    assert_eq!(
        log.lines.last().map(String::as_str),
        Some("member in!stop (1 bytes)")
    );
    assert!(!log.lines.iter().any(|l| l.starts_with("leave")));
}

/// Nested containers larger than the input's memory budget are walked from the spill.
#[test]
fn a_nested_cabinet_beyond_the_memory_budget_is_walked_from_a_temporary_file() {
    let big = kbscan_fixtures::noise(600_000, 5);
    let inner = cab(&[("big.bin", big.clone()), ("small.txt", b"small".to_vec())]);
    let top = cab(&[("inner.cab", inner)]);
    let memory = MemoryBudget::new(256 * 1024);
    let limits = Limits {
        memory: Some(memory.clone()),
        ..Limits::default()
    };
    let mut log = Log::default();
    walk(&top, limits, 6, &mut log);
    assert!(
        log.spilled.contains(&"in!inner.cab".to_string()),
        "{:?}",
        log.spilled
    );
    assert!(log.spilled.contains(&"in!inner.cab!big.bin".to_string()));
    assert!(
        log.lines
            .contains(&"member in!inner.cab!small.txt (5 bytes)".to_string()),
        "{:#?}",
        log.lines
    );
    assert!(
        !log.lines.iter().any(|l| l.starts_with("error")),
        "{:#?}",
        log.lines
    );
    assert_eq!(memory.held(), 0);
}

#[test]
fn an_unreadable_cabinet_is_one_error_at_its_path() {
    let mut log = Log::default();
    walk(b"MSCF\0\0\0\0truncated", Limits::default(), 6, &mut log);
    assert_eq!(log.lines.len(), 1, "{:#?}", log.lines);
    assert!(log.lines[0].starts_with("error in [cab_truncated] cannot read cabinet: "));
    let _ = Kind::Cab;
}
