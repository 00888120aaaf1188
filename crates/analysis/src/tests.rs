//! Analyses on hand-built scan reports: each test states a small corpus and what must
//! come out of it.

use super::*;
use kbscan_model::{Component, Dates, FileKind, FileVersions, Totals};
use kbscan_version::{OsBuild, Track, Version};

fn v(s: &str) -> Version {
    s.parse().expect("test version")
}

fn b(s: &str) -> OsBuild {
    v(&format!("{s}.0")).os_build()
}

/// A package with components `(arch, name, version)`; each component also ships one PE
/// file named after it (`<name>.dll`) with the same version.
fn pkg(kb: &str, arch: &str, date: Option<&str>, comps: &[(&str, &str, &str)]) -> Package {
    let components: Vec<Component> = comps
        .iter()
        .map(|(a, n, ver)| Component {
            key: format!("{a}_{n}_31bf3856ad364e35_{ver}_none_0000000000000000"),
            name: n.to_string(),
            version: Some(v(ver)),
            architecture: Some(a.to_string()),
            culture: None,
            public_key_token: Some("31bf3856ad364e35".into()),
            branch: None,
            manifest: None,
            files: 1,
            missing_files: Vec::new(),
        })
        .collect();
    let files = components
        .iter()
        .map(|c| FileRecord {
            path: format!("{kb}-{arch}.msu!{}\\{}.dll", c.key, c.name),
            name: format!("{}.dll", c.name),
            kind: FileKind::Pe,
            component: Some(c.key.clone()),
            size: 1,
            sha256: String::new(),
            versions: FileVersions {
                component: c.version,
                folder: c.version,
                pe_file: c.version,
                pe_product: c.version,
                file_version_string: c.version,
            },
            pe: None,
            delta: None,
            checks: Vec::new(),
        })
        .collect();
    Package {
        source: format!("corpus/Windows6.0-{kb}-{arch}.msu"),
        kind: PackageKind::Msu,
        size: 1,
        sha256: String::new(),
        kb: Some(kb.to_string()),
        identity: None,
        release_type: Some("Security Update".into()),
        about: Default::default(),
        architecture: Some(arch.to_string()),
        os_builds: Default::default(),
        os_family: None,
        dates: Dates {
            created: date.map(|d| format!("{d}T17:00:00Z")),
            build_date: None,
            release: date.map(str::to_string),
            release_source: date.map(|_| "update.mum creationTimeStamp".to_string()),
        },
        payloads: Vec::new(),
        properties: None,
        unattend: None,
        package_manifests: Vec::new(),
        sub_packages: Vec::new(),
        components,
        files,
        errors: Vec::new(),
    }
}

fn report(packages: Vec<Package>) -> ScanReport {
    ScanReport {
        schema_version: 1,
        kbscan_version: "test".into(),
        inputs: Vec::new(),
        totals: Totals {
            packages: packages.len() as u64,
            ..Default::default()
        },
        packages,
        errors: Vec::new(),
    }
}

fn run(packages: Vec<Package>) -> Analysis {
    analyze(&report(packages), &CeilingRules::defaults())
}

fn kbs(list: &[PackageRef]) -> Vec<String> {
    list.iter()
        .map(|p| format!("{} {}", p.label(), p.architecture))
        .collect()
}

#[test]
fn order_is_by_date_then_kb_number_then_arch_then_source() {
    let a = run(vec![
        pkg("KB4493471", "amd64", Some("2019-03-28"), &[]),
        pkg("KB4489887", "x86", Some("2019-03-14"), &[]),
        pkg("KB4489887", "amd64", Some("2019-03-14"), &[]),
        // KB999 < KB4489880 as numbers, though "KB999" > "KB4489880" as text.
        pkg("KB999", "x86", Some("2019-03-01"), &[]),
        pkg("KB4489880", "x86", Some("2019-03-01"), &[]),
        pkg("KB1", "x86", None, &[]),
        pkg("KB2", "x86", Some("2019-02-30"), &[]),
    ]);
    assert_eq!(
        kbs(&a
            .packages
            .iter()
            .map(|p| p.package.clone())
            .collect::<Vec<_>>()),
        [
            "KB999 x86",
            "KB4489880 x86",
            "KB4489887 amd64",
            "KB4489887 x86",
            "KB4493471 amd64"
        ]
    );
    let undated: Vec<(String, &str)> = a
        .undated
        .iter()
        .map(|u| (u.package.label(), u.reason.as_str()))
        .collect();
    assert_eq!(undated.len(), 2);
    assert_eq!(undated[0].0, "KB1");
    assert!(
        undated[0].1.contains("no update.mum creationTimeStamp"),
        "{undated:?}"
    );
    assert!(undated[1].1.contains("not a calendar date"), "{undated:?}");
    assert_eq!((a.summary.dated, a.summary.undated), (5, 2));
}

#[test]
fn package_order_never_uses_the_file_name() {
    // Same date, the file names sort the other way round from the KB numbers.
    let mut p1 = pkg("KB4489887", "x86", Some("2019-03-14"), &[]);
    p1.source = "a/zzz.msu".into();
    let mut p2 = pkg("KB4489880", "x86", Some("2019-03-14"), &[]);
    p2.source = "a/aaa.msu".into();
    let a = run(vec![p1, p2]);
    let order: Vec<PackageRef> = a.packages.iter().map(|p| p.package.clone()).collect();
    assert_eq!(kbs(&order), ["KB4489880 x86", "KB4489887 x86"]);
}

#[test]
fn move_6001_to_6002_with_components_and_reset() {
    let a = run(vec![
        pkg(
            "KB1",
            "x86",
            Some("2009-01-10"),
            &[
                ("x86", "kernel", "6.0.6001.22300"),
                ("x86", "ntdll", "6.0.6001.18000"),
            ],
        ),
        pkg(
            "KB2",
            "x86",
            Some("2009-02-10"),
            &[
                ("x86", "kernel", "6.0.6001.22350"),
                ("x86", "ntdll", "6.0.6001.22349"),
            ],
        ),
        pkg(
            "KB3",
            "x86",
            Some("2009-05-26"),
            &[
                ("x86", "kernel", "6.0.6002.18005"),
                ("x86", "ntdll", "6.0.6001.22389"),
                ("x86", "shell", "6.0.6002.18005"),
            ],
        ),
        pkg(
            "KB4",
            "x86",
            Some("2009-06-09"),
            &[("x86", "kernel", "6.0.6002.18050")],
        ),
    ]);
    assert_eq!(a.moves.len(), 1, "{:#?}", a.moves);
    let m = &a.moves[0];
    assert_eq!(
        (m.os.as_str(), m.platform.as_str(), m.from, m.to),
        ("6.0", "x86", b("6.0.6001"), b("6.0.6002"))
    );
    assert_eq!(m.first_mover.package.kb.as_deref(), Some("KB3"));
    assert_eq!(m.first_mover.package.date.as_deref(), Some("2009-05-26"));
    assert_eq!(
        m.first_mover.builds,
        [b("6.0.6001"), b("6.0.6002")],
        "a mixed package"
    );
    let c = &m.first_mover.changed;
    assert_eq!(c.len(), 1, "{c:#?}");
    // before = the highest earlier kernel (KB2's 22350), not the first one.
    assert_eq!(
        (c[0].name.as_str(), c[0].before, c[0].after),
        ("kernel", v("6.0.6001.22350"), v("6.0.6002.18005"))
    );
    assert_eq!(c[0].before_package, "KB2");
    assert_eq!(c[0].reset, 18005 - 22350);
    assert_eq!(m.first_mover.new_components.len(), 1);
    assert_eq!(m.first_mover.new_components[0].name, "shell");
    assert_eq!(
        kbs(&m
            .later_movers
            .iter()
            .map(|l| l.package.clone())
            .collect::<Vec<_>>()),
        ["KB4 x86"]
    );
    assert!(
        m.later_movers[0].changed.is_empty(),
        "the kernel was on 6002 already"
    );
    assert!(m.stragglers.is_empty());
    assert_eq!(a.series.len(), 1);
    assert_eq!(a.series[0].builds, [b("6.0.6001"), b("6.0.6002")]);
}

#[test]
fn a_move_in_one_architecture_only_and_stragglers() {
    let a = run(vec![
        pkg(
            "KB10",
            "x86",
            Some("2019-03-01"),
            &[("x86", "kernel", "6.0.6002.24566")],
        ),
        pkg(
            "KB10",
            "amd64",
            Some("2019-03-01"),
            &[("amd64", "kernel", "6.0.6002.24566")],
        ),
        // Only x64 moves in KB11.
        pkg(
            "KB11",
            "x86",
            Some("2019-03-14"),
            &[("x86", "kernel", "6.0.6002.24567")],
        ),
        pkg(
            "KB11",
            "amd64",
            Some("2019-03-14"),
            &[
                ("amd64", "kernel", "6.0.6003.20484"),
                ("wow64", "ntdll", "6.0.6003.20483"),
            ],
        ),
        // A later x64 package still on 6002: a straggler.
        pkg(
            "KB12",
            "amd64",
            Some("2019-03-20"),
            &[("amd64", "kernel", "6.0.6002.24568")],
        ),
        pkg(
            "KB13",
            "amd64",
            Some("2019-04-09"),
            &[("amd64", "kernel", "6.0.6003.20489")],
        ),
        // Undated packages never move anything, even on a higher build.
        pkg("KB14", "x86", None, &[("x86", "kernel", "6.0.6004.1")]),
    ]);
    assert_eq!(a.moves.len(), 1, "{:#?}", a.moves);
    let m = &a.moves[0];
    assert_eq!(
        (m.platform.as_str(), m.from, m.to),
        ("amd64", b("6.0.6002"), b("6.0.6003"))
    );
    assert_eq!(m.first_mover.package.label(), "KB11");
    // wow64 components count for the amd64 platform; ntdll is new to the series.
    assert_eq!(m.first_mover.changed.len(), 1);
    assert_eq!(m.first_mover.changed[0].reset, 20484 - 24566);
    assert_eq!(m.first_mover.new_components[0].architecture, "wow64");
    assert_eq!(
        kbs(&m
            .stragglers
            .iter()
            .map(|s| s.package.clone())
            .collect::<Vec<_>>()),
        ["KB12 amd64"]
    );
    assert_eq!(m.stragglers[0].builds, [b("6.0.6002")]);
    assert_eq!(
        kbs(&m
            .later_movers
            .iter()
            .map(|l| l.package.clone())
            .collect::<Vec<_>>()),
        ["KB13 amd64"]
    );
    assert_eq!(a.undated.len(), 1);
    let x86 = a
        .series
        .iter()
        .find(|s| s.platform == "x86")
        .expect("x86 series");
    assert_eq!(
        x86.builds,
        [b("6.0.6002")],
        "the undated 6004 package is not in the series"
    );
}

#[test]
fn every_os_line_is_its_own_series() {
    // An IE component (8.0) inside a Windows 6.0 package moves separately from the OS.
    let a = run(vec![
        pkg(
            "KB1",
            "x86",
            Some("2019-01-01"),
            &[
                ("x86", "kernel", "6.0.6002.24555"),
                ("x86", "ie", "8.0.6001.24000"),
            ],
        ),
        pkg(
            "KB2",
            "x86",
            Some("2019-02-01"),
            &[
                ("x86", "kernel", "6.0.6002.24556"),
                ("x86", "ie", "8.0.6002.1"),
            ],
        ),
        pkg(
            "KB3",
            "x86",
            Some("2019-03-01"),
            &[("x86", "kernel", "10.0.17763.1")],
        ),
    ]);
    let moves: Vec<String> = a
        .moves
        .iter()
        .map(|m| format!("{} {}→{}", m.os, m.from, m.to))
        .collect();
    assert_eq!(
        moves,
        ["8.0 8.0.6001→8.0.6002"],
        "10.0 is a new line, not a move of 6.0"
    );
    assert_eq!(a.series.len(), 3);
}

#[test]
fn ceilings_closest_first_one_per_version() {
    let a = run(vec![
        pkg(
            "KB1",
            "x86",
            Some("2019-03-01"),
            &[
                ("x86", "kernel", "6.0.6002.24566"),
                ("x86", "ntdll", "6.0.6002.9999"),
            ],
        ),
        pkg(
            "KB1",
            "amd64",
            Some("2019-03-01"),
            &[("amd64", "kernel", "6.0.6002.24566")],
        ),
        pkg(
            "KB2",
            "amd64",
            Some("2019-03-02"),
            &[("amd64", "kernel", "6.0.6002.24566")],
        ),
    ]);
    let f = &a.ceilings.findings;
    // Components: kernel x86, kernel amd64, ntdll x86; files: kernel.dll (both archs), ntdll.dll.
    assert_eq!(f.len(), 5, "{f:#?}");
    assert_eq!(a.ceilings.findings_close, 3);
    let first = &f[0];
    assert_eq!(
        (first.kind, first.name.as_str(), first.version),
        (VersionKind::Component, "kernel", v("6.0.6002.24566"))
    );
    assert_eq!(first.architectures, ["amd64"]);
    assert_eq!(first.packages, ["KB1", "KB2"]);
    assert_eq!(first.occurrences, 2);
    let file = f
        .iter()
        .find(|x| x.kind == VersionKind::File && x.name == "kernel.dll")
        .expect("file");
    assert_eq!(file.architectures, ["amd64", "x86"]);
    assert_eq!(file.occurrences, 3, "one finding for three copies");
    let n = file.nt6.expect("nt6");
    assert_eq!(
        (
            n.track,
            n.counter,
            n.counter_headroom,
            file.headroom,
            file.revision_headroom
        ),
        (Track::Ldr, 4086, 9, 9, 40969)
    );
    // 6.0.6002.9999 would sort after 24566 as text; here it is last (most headroom).
    let last = f.last().expect("findings");
    assert_eq!(last.version, v("6.0.6002.9999"));
    assert!(!last.close);
}

#[test]
fn anomalies_unused_track_and_counter_going_down() {
    let a = run(vec![
        pkg(
            "KB1",
            "amd64",
            Some("2021-03-09"),
            &[
                ("amd64", "inetcomm", "6.1.7601.24575"),
                ("amd64", "kernel", "6.1.7601.24560"),
            ],
        ),
        pkg(
            "KB2",
            "amd64",
            Some("2021-04-13"),
            &[
                ("amd64", "inetcomm", "6.1.7601.24576"),
                ("amd64", "kernel", "6.1.7601.24559"),
            ],
        ),
        // Going down across a build move is the move, not an anomaly.
        pkg(
            "KB3",
            "amd64",
            Some("2021-05-11"),
            &[("amd64", "kernel", "6.1.7602.20000")],
        ),
    ]);
    let kinds: Vec<(AnomalyKind, &str, Version)> = a
        .anomalies
        .iter()
        .map(|x| (x.kind, x.name.as_str(), x.version))
        .collect();
    assert_eq!(
        kinds,
        [
            (AnomalyKind::UnusedTrack, "inetcomm", v("6.1.7601.24576")),
            (
                AnomalyKind::UnusedTrack,
                "inetcomm.dll",
                v("6.1.7601.24576")
            ),
            (AnomalyKind::CounterDecrease, "kernel", v("6.1.7601.24559")),
        ],
        "{:#?}",
        a.anomalies
    );
    let dec = &a.anomalies[2];
    assert_eq!(dec.previous, Some(v("6.1.7601.24560")));
    assert_eq!(dec.packages, ["KB1", "KB2"]);
    // 24575 → 24576 leaves the LDR window: a new track, so no counter_decrease for it.
}

#[test]
fn forecast_math_on_a_straight_line() {
    // 10 counter values every 30 days from 4000: 95 left after the last point.
    let dates = ["2019-01-01", "2019-01-31", "2019-03-02", "2019-04-01"];
    let pkgs: Vec<Package> = dates
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let ver = format!("6.0.6002.{}", 20480 + 4000 + 10 * i);
            pkg(
                &format!("KB{}", i + 1),
                "x86",
                Some(d),
                &[("x86", "kernel", &ver)],
            )
        })
        .collect();
    let a = run(pkgs);
    let f = a
        .forecasts
        .iter()
        .find(|f| f.scope == ForecastScope::OsBuild)
        .expect("os build forecast");
    assert_eq!(
        (f.points, f.pairs, f.last_value, f.headroom),
        (4, 6, 4030, 65)
    );
    assert_eq!(f.track, Some(Track::Ldr));
    assert_eq!(f.measure, "counter");
    // 10 per 30 days = 10.15 per mean month; 65 left → 195 days after 2019-04-01.
    assert_eq!(f.slope_per_month, Some(10.15));
    assert_eq!(f.status, ForecastStatus::Projected);
    assert_eq!(f.projected_month.as_deref(), Some("2019-10"));
    assert_eq!(f.months_after_last, Some(6.4));
    assert_eq!(f.inputs.len(), 4);
    assert_eq!(f.inputs[0].date, "2019-01-01");
}

#[test]
fn forecast_edge_cases() {
    let a = run(vec![
        pkg(
            "KB1",
            "x86",
            Some("2019-01-01"),
            &[
                ("x86", "a", "6.0.6002.24575"),
                ("x86", "b", "6.0.6002.20500"),
            ],
        ),
        pkg(
            "KB1",
            "amd64",
            Some("2019-01-01"),
            &[("amd64", "b", "6.0.6002.20501")],
        ),
        pkg(
            "KB2",
            "x86",
            Some("2019-02-01"),
            &[("x86", "b", "6.0.6002.20499")],
        ),
        pkg(
            "KB3",
            "x86",
            Some("2019-03-01"),
            &[("x86", "c", "6.0.6002.16400")],
        ),
    ]);
    let get = |c: &str| {
        a.forecasts
            .iter()
            .find(|f| f.component.as_deref() == Some(c))
            .unwrap_or_else(|| panic!("forecast for {c}"))
    };
    assert_eq!(get("a").status, ForecastStatus::Exhausted);
    assert_eq!(get("a").projected_month.as_deref(), Some("2019-01"));
    // Two archs on one date count once (the maximum), then it goes down: not growing.
    assert_eq!(
        (get("b").points, get("b").status),
        (2, ForecastStatus::NotGrowing)
    );
    assert_eq!(get("b").inputs[0].value, 21);
    assert_eq!(get("c").status, ForecastStatus::TooFewPoints);
    assert_eq!(
        get("c").track,
        Some(Track::Gdr),
        "GDR and LDR are separate series"
    );
}

#[test]
fn history_orders_numerically_and_shows_the_reset() {
    let r = report(vec![
        pkg(
            "KB3",
            "x86",
            Some("2019-03-14"),
            &[("x86", "kernel", "6.0.6003.20484")],
        ),
        pkg(
            "KB1",
            "x86",
            Some("2009-01-01"),
            &[("x86", "kernel", "6.0.6002.9999")],
        ),
        pkg(
            "KB2",
            "x86",
            Some("2019-03-01"),
            &[("x86", "kernel", "6.0.6002.24566")],
        ),
        pkg(
            "KB2",
            "amd64",
            Some("2019-03-01"),
            &[("amd64", "kernel", "6.0.6002.24566")],
        ),
        pkg("KB4", "x86", None, &[("x86", "kernel", "6.0.6002.24566")]),
        pkg(
            "KB5",
            "x86",
            Some("2019-04-01"),
            &[("x86", "other", "6.0.6003.20489")],
        ),
    ]);
    let h = history(&r, "KERNEL.DLL", &CeilingRules::defaults());
    assert_eq!((h.matches, h.unversioned), (5, 0));
    let archs: Vec<&str> = h
        .architectures
        .iter()
        .map(|a| a.architecture.as_str())
        .collect();
    assert_eq!(archs, ["amd64", "x86"]);
    let x86 = &h.architectures[1].entries;
    let versions: Vec<String> = x86.iter().map(|e| e.version.to_string()).collect();
    assert_eq!(
        versions,
        ["6.0.6002.9999", "6.0.6002.24566", "6.0.6003.20484"]
    );
    assert_eq!(x86[1].first.label(), "KB2");
    assert_eq!(x86[1].packages.len(), 2, "KB2 and the undated KB4");
    assert_eq!(x86[1].headroom, 9);
    assert!(x86[1].build_move.is_none());
    let mv = x86[2].build_move.as_ref().expect("reset visible");
    assert_eq!(
        (mv.from, mv.previous, mv.reset),
        (b("6.0.6002"), v("6.0.6002.24566"), -4082)
    );
    assert_eq!(x86[2].nt6.map(|n| n.counter), Some(4));
}

#[test]
fn analysis_json_is_deterministic() {
    let make = || {
        run(vec![
            pkg(
                "KB2",
                "amd64",
                Some("2019-03-14"),
                &[("amd64", "kernel", "6.0.6003.20484")],
            ),
            pkg(
                "KB1",
                "amd64",
                Some("2019-03-01"),
                &[("amd64", "kernel", "6.0.6002.24566")],
            ),
        ])
    };
    let a = serde_json::to_string(&make()).expect("json");
    let b = serde_json::to_string(&make()).expect("json");
    assert_eq!(a, b);
    assert!(a.starts_with("{\"schema_version\":1,"), "{a}");
}

#[test]
fn gdr_and_ldr_side_by_side_are_not_a_decrease_and_private_is_flagged() {
    let a = run(vec![
        pkg(
            "KB1",
            "x86",
            Some("2015-09-10"),
            &[
                ("x86", "ucrt", "6.0.6002.23798"),
                ("x86", "ucrt", "6.0.6002.19488"),
            ],
        ),
        pkg(
            "KB2",
            "x86",
            Some("2015-10-10"),
            &[("x86", "ucrt", "6.0.6002.19500")],
        ),
        pkg(
            "KB3",
            "x86",
            Some("2015-11-10"),
            &[
                ("x86", "ucrt", "6.0.6002.23800"),
                ("x86", "dbg", "6.0.6002.28700"),
            ],
        ),
    ]);
    let kinds: Vec<(AnomalyKind, &str)> = a
        .anomalies
        .iter()
        .map(|x| (x.kind, x.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (AnomalyKind::PrivateTrack, "dbg"),
            (AnomalyKind::PrivateTrack, "dbg.dll")
        ],
        "GDR 19500 after LDR 23798 is another track, not a decrease: {:#?}",
        a.anomalies
    );
    let gdr = a
        .forecasts
        .iter()
        .find(|f| f.component.as_deref() == Some("ucrt") && f.track == Some(Track::Gdr))
        .expect("GDR series");
    assert_eq!(gdr.points, 2);
}
