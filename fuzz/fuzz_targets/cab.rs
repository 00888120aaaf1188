//! The CAB reader and the container walker: parse, decode every folder once and touch every
//! accessor, recursing into nested containers through `kbscan_archive::walker` the way the
//! scanner and `extract` do. Half the inputs run with a tiny memory budget, so members are
//! spilled to a temporary file and nested cabinets are read back from it (positioned reads),
//! and with a record budget: the paths issue 15 added, under overflow checks.
#![no_main]
use kbscan_archive::cab::Cabinet;
use kbscan_archive::limits::{Budget, MemoryBudget};
use kbscan_archive::walker::{Flow, Member, Sink, WalkError, Walker};
use kbscan_archive::{Limits, NestedPath, Source};
use libfuzzer_sys::fuzz_target;

/// Small limits keep each input fast; the parsers must honour them, not the fuzzer.
fn limits(spill: bool) -> Limits {
    Limits {
        max_total_bytes: 32 << 20,
        max_entry_bytes: 8 << 20,
        package_budget: Some(Budget::new(64 << 20)),
        memory: spill.then(|| MemoryBudget::new(4096)),
        records: Some(Budget::new(10_000)),
        ..Limits::default()
    }
}

struct Touch {
    max_entry: u64,
    members: u64,
}

impl Sink for Touch {
    fn member(&mut self, m: &Member<'_>) -> Flow {
        assert!(m.data.len() <= self.max_entry);
        if let Some(e) = m.cab_entry {
            let _ = (&e.name, e.size, e.end(), e.folder, e.attribs);
        }
        let _ = (m.safe_components(), m.path.to_string(), m.magic);
        // Read a little of every member, wherever it lives.
        let _ = m.data.read_upto(m.data.len() / 2, 64);
        self.members += 1;
        Flow::Descend
    }
    fn error(&mut self, e: WalkError) -> Flow {
        let _ = (e.issue.kind(), e.issue.to_string(), e.path.to_string());
        Flow::Continue
    }
}

fuzz_target!(|data: &[u8]| {
    let spill = data.first().is_some_and(|b| b & 1 == 1);
    let l = limits(spill);
    if let Ok(cab) = Cabinet::parse(data, &l) {
        let h = &cab.header;
        let _ = (h.total_size, h.set_id, h.flags, &h.prev_cabinet, &h.next_cabinet, h.trailing_bytes);
        for f in &cab.folders {
            let _ = (f.compression.to_string(), f.block_count, f.data_offset);
        }
    }
    let memory = l.memory.clone();
    let mut sink = Touch {
        max_entry: l.max_entry_bytes,
        members: 0,
    };
    Walker::new(l, 3).walk(Source::Mem(data), &NestedPath::new("fuzz"), 0, &mut sink);
    assert!(sink.members <= 10_000);
    if let Some(m) = memory {
        assert_eq!(m.held(), 0, "memory budget given back");
    }
});
