//! `kbscan report --format html` (and markdown with linked charts), end to end.
//!
//! The page must be self-contained (no reference outside itself), deterministic, carry
//! every section and chart, and show hostile package strings as text. The browser tests
//! open it in headless Chromium: a screenshot that is not blank, the DOM after parsing
//! (every section and chart, no element made from package strings) and Chromium's net log
//! (no request other than `file:`/`data:` made by the page). Without Chromium they print
//! `SKIP` and pass, unless `KBSCAN_REQUIRE_TOOLS=1` (CI sets it). To look at the screenshot
//! yourself: `KBSCAN_KEEP_SCREENSHOT=/tmp/report.png cargo test --test integration html::`.

use crate::util::{kbscan, kbscan_ok, require, root, tempdir};
use kbscan_fixtures::cab::{write_cab, CabFile, CabFolder, CabSpec, Compression};
use kbscan_fixtures::pe::{build_pe, Machine, PeKind, PeSpec, VersionSpec};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Renders the HTML report of `input` into `dir/name` and returns its text.
#[track_caller]
fn html_report(input: &Path, dir: &Path, name: &str, threads: &str) -> String {
    let out = dir.join(name);
    let o = kbscan_ok(&[
        "report",
        input.to_str().expect("utf-8 path"),
        "--format",
        "html",
        "-o",
        out.to_str().expect("utf-8 path"),
        "--quiet",
        "-j",
        threads,
    ]);
    assert!(o.stdout.is_empty(), "with -o nothing goes to stdout");
    std::fs::read_to_string(&out).expect("read the HTML report")
}

const SECTIONS: [&str; 9] = [
    "summary",
    "timelines",
    "headroom",
    "moves",
    "ceilings",
    "anomalies",
    "forecast",
    "packages",
    "errors",
];

/// The charts of `corpus/synthetic`: one timeline per OS version line, one headroom chart.
const CHARTS: [&str; 3] = ["chart-timeline-6.0", "chart-timeline-6.1", "chart-headroom"];

/// The one absolute URL allowed anywhere in an attribute: SVG's namespace name, which
/// identifies the vocabulary and is never fetched.
const SVG_NS: &str = "xmlns=\"http://www.w3.org/2000/svg\"";

/// The markup of a page: every tag (`<…>`) and the content of every `<style>` element.
/// Text between tags is left out: escaped package strings may read like `src=x` there,
/// and text is never fetched.
fn markup(html: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let Some(j) = rest[i..].find('>') else {
            parts.push(&rest[i..]);
            break;
        };
        let tag = &rest[i..i + j + 1];
        parts.push(tag);
        rest = &rest[i + j + 1..];
        if tag.to_ascii_lowercase().starts_with("<style") {
            let end = rest
                .to_ascii_lowercase()
                .find("</style")
                .unwrap_or(rest.len());
            parts.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    parts
}

/// Every reference the page's markup could follow or fetch, with what it points at.
fn references(html: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for part in markup(html) {
        let lower = part.to_ascii_lowercase();
        for key in [
            "src=", "href=", "action=", "srcset=", "poster=", "data=", "url(", "@import",
        ] {
            let mut from = 0;
            while let Some(i) = lower[from..].find(key) {
                let at = from + i + key.len();
                let value: String = lower[at..]
                    .trim_start_matches(['"', '\'', ' '])
                    .chars()
                    .take_while(|c| !matches!(c, '"' | '\'' | ')' | '>' | ' ' | ';'))
                    .collect();
                refs.push(format!("{key}{value}"));
                from = at;
            }
        }
    }
    refs
}

/// Fails when the page refers to anything outside itself.
#[track_caller]
fn assert_self_contained(html: &str) {
    for r in references(html) {
        let target = r.split_once(['=', '(']).map_or("", |(_, t)| t).trim();
        assert!(target.starts_with('#'), "reference outside the page: {r}");
    }
    // Any absolute URL in the markup other than the SVG namespace name.
    for part in markup(html) {
        let part = part.replace(SVG_NS, "");
        for pat in ["http:", "https:", "//", "ftp:", "javascript:"] {
            assert!(
                !part.to_ascii_lowercase().contains(pat),
                "{pat} in the markup: {part}"
            );
        }
    }
    for tag in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "<base",
    ] {
        assert!(!html.contains(tag), "{tag} in the page");
    }
}

#[test]
fn reference_checker_catches_external_references() {
    for bad in [
        "<img src=\"http://x/y.png\">",
        "<link rel=stylesheet href='https://x/a.css'>",
        "<div style=\"background: url(//x/b.png)\"></div>",
        "<style>@import 'https://x/c.css';</style>",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><image href=\"http://x/d.png\"/></svg>",
    ] {
        let r = std::panic::catch_unwind(|| assert_self_contained(bad));
        assert!(r.is_err(), "not caught: {bad}");
    }
    assert_self_contained(&format!(
        "<a href=\"#moves\">moves</a><svg {SVG_NS}></svg><p>http://support.microsoft.com \
         &lt;img src=x&gt; (https://x) url(//x)</p>"
    ));
}

#[test]
fn html_of_the_synthetic_corpus_has_every_section_and_chart_and_no_external_reference() {
    let dir = tempdir();
    let html = html_report(&root().join("corpus/synthetic"), dir.path(), "r.html", "2");
    assert!(html.starts_with("<!DOCTYPE html>"));
    for id in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    for id in CHARTS {
        assert!(
            html.contains(&format!("<figure id=\"{id}\" class=\"chart\">")),
            "chart {id}"
        );
    }
    assert_eq!(
        html.matches("<svg ").count(),
        CHARTS.len(),
        "one inline SVG per chart"
    );
    assert_self_contained(&html);
    // The story: the LDR window and its ceiling, and the build move with its first mover.
    assert!(html.contains("LDR window 20480–24575"));
    assert!(html.contains("ceiling 24575 (LDR counter 4095)"));
    assert!(html.contains("KB4489887 moved first: 6.0.6002 → 6.0.6003 (amd64, x86)"));
    assert!(html.contains("build 6.0.6002") && html.contains("build 6.0.6003"));
    // Summary cards.
    for card in [
        "packages",
        "files",
        "OS builds",
        "build moves",
        "near a ceiling",
        "errors",
    ] {
        assert!(
            html.contains(&format!("<div class=\"label\">{card}</div>")),
            "card {card}"
        );
    }
    // Package details are collapsible, one per package.
    assert_eq!(html.matches("<details class=\"package\">").count(), 28);
    // Deterministic: another thread count, same bytes.
    let again = html_report(&root().join("corpus/synthetic"), dir.path(), "r1.html", "1");
    assert!(html == again, "HTML differs between -j 2 and -j 1");
}

/// The chart data of the bundled corpus, read through the library: the 6002 → 6003 story
/// as numbers, before any drawing.
#[test]
fn chart_data_of_the_synthetic_corpus_tells_the_6003_story() {
    use kbscan_analysis::{analyze, CeilingRules};
    use kbscan_report::charts::{headroom, timelines};
    let opts = kbscan_scan::ScanOptions {
        threads: Some(1),
        ..Default::default()
    };
    let scan = kbscan_scan::scan_paths(
        &[root().join("corpus/synthetic")],
        &opts,
        &kbscan_scan::SilentObserver,
    )
    .expect("scan");
    let a = analyze(&scan, &CeilingRules::defaults());
    let t = timelines(&scan, &a);
    assert_eq!(
        t.iter().map(|t| t.family.as_str()).collect::<Vec<_>>(),
        ["6.0", "6.1"]
    );
    let nt60 = &t[0];
    assert_eq!(nt60.builds, ["6.0.6002", "6.0.6003"]);
    // One window in use, derived from the NT 6.x rule: public LDR.
    assert_eq!(nt60.bands.len(), 1);
    let ldr = &nt60.bands[0];
    assert_eq!(
        (ldr.track.as_str(), ldr.floor, ldr.ceiling, ldr.used),
        ("LDR", 20480, 24575, true)
    );
    // One move mark for both platforms, at the preview's date, with the first mover.
    assert_eq!(nt60.moves.len(), 1);
    let m = &nt60.moves[0];
    assert_eq!(
        (
            m.kb.as_str(),
            m.from.as_str(),
            m.to.as_str(),
            m.platforms.as_str()
        ),
        ("KB4489887", "6.0.6002", "6.0.6003", "amd64, x86")
    );
    // The kernel climbs to 24566 and resets to 2048x at the move.
    let kernel = nt60
        .series
        .iter()
        .find(|s| s.label == "os-kernel")
        .expect("os-kernel series");
    let before: Vec<u16> = kernel
        .points
        .iter()
        .filter(|p| p.0 < m.day)
        .map(|p| p.1)
        .collect();
    let after: Vec<u16> = kernel
        .points
        .iter()
        .filter(|p| p.0 >= m.day)
        .map(|p| p.1)
        .collect();
    assert_eq!(before.iter().max(), Some(&24566));
    assert!(
        after.iter().all(|r| (20480..20600).contains(r)),
        "{after:?}"
    );
    assert!(nt60
        .series
        .iter()
        .all(|s| s.points.windows(2).all(|w| w[0].0 < w[1].0)));
    assert!(nt60.moves.iter().all(|m| m.day >= nt60.spans[0].first_day));
    // Headroom: closest first, the 6002 kernel with 9 counter values left.
    let bars = headroom(&a);
    assert!(bars.len() <= kbscan_report::charts::MAX_BARS);
    assert_eq!(bars[0].headroom, 9);
    assert!(bars[0].close);
    assert!(bars[0]
        .label
        .starts_with("os-kernel amd64 6.0.6002.24566 LDR"));
    assert!(bars.windows(2).all(|w| w[0].headroom <= w[1].headroom));
}

#[test]
fn html_lists_errors_with_their_nested_paths() {
    let dir = tempdir();
    let out = dir.path().join("m.html");
    let o = kbscan(&[
        "report",
        "corpus/malformed",
        "--format",
        "html",
        "-o",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "failed inputs: exit 1");
    let html = std::fs::read_to_string(&out).expect("read");
    assert!(html.contains("<h2>Errors ("));
    assert!(html.contains("cab_bad_checksum"));
    // The ZIP member name is shown as the nested path, escaped.
    assert!(
        html.contains("evil-path.zip!..&#x2f;..&#x2f;evil.msu"),
        "nested path"
    );
    assert_self_contained(&html);
}

#[test]
fn markdown_with_output_file_links_svg_charts_beside_it() {
    let dir = tempdir();
    let out = dir.path().join("report.md");
    let o = kbscan(&[
        "report",
        "corpus/synthetic",
        "--format",
        "markdown",
        "-o",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let md = std::fs::read_to_string(&out).expect("read");
    for id in ["timeline-6.0", "timeline-6.1", "headroom"] {
        assert!(
            md.contains(&format!("(report.charts/{id}.svg)")),
            "link to {id}"
        );
        let svg = std::fs::read_to_string(dir.path().join(format!("report.charts/{id}.svg")))
            .expect("chart file");
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    }
    for h in [
        "## Charts",
        "## Build moves",
        "## Ceilings",
        "## Packages (28)",
        "## Errors (0)",
    ] {
        assert!(md.contains(h), "{h}");
    }
    // Standard output has no place for files: it says so instead.
    let o = kbscan(&[
        "report",
        "corpus/synthetic",
        "--format",
        "markdown",
        "--quiet",
    ]);
    let md = String::from_utf8(o.stdout).expect("utf-8");
    assert!(md.contains("need an output file: with -o FILE.md"));
    assert!(!md.contains(".svg)"));
}

// ---- hostile strings ------------------------------------------------------------------

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "<img src=x onerror=alert(3)>";

/// A payload cabinet whose strings try to become markup: in the update.mum description,
/// displayName and company, the package identity, KB, release type, component name, file
/// name and PE version strings.
fn hostile_cab() -> Vec<u8> {
    let evil = format!("{SCRIPT}\"q' & <b onmouseover=alert(2)>\u{1b}[31m\u{7}");
    let attr = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    // No `/` in names that are paths inside the cabinet: it would split the path.
    let comp = format!("evil-{IMG}-\"q'-&-\u{1b}[31m");
    let version = "6.0.6002.24570";
    let key = format!("x86_{comp}_31bf3856ad364e35_{version}_none_0123456789abcdef");
    let created = "2019-04-01T10:00:00Z";
    let mum = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\" description=\"{e}\" displayName=\"{e}\" company=\"{e}\" creationTimeStamp=\"{created}\">\r\n  <assemblyIdentity name=\"Package_for_{e}\" version=\"6.0.1.0\" language=\"neutral\" processorArchitecture=\"x86\" publicKeyToken=\"31bf3856ad364e35\" />\r\n  <package identifier=\"KB{e}\" releaseType=\"{e}\" restart=\"required\">\r\n    <update name=\"1-1_neutral_LDR\">\r\n      <component>\r\n        <assemblyIdentity name=\"{c}\" version=\"{version}\" processorArchitecture=\"x86\" language=\"neutral\" buildType=\"release\" publicKeyToken=\"31bf3856ad364e35\" versionScope=\"nonSxS\" />\r\n      </component>\r\n    </update>\r\n  </package>\r\n</assembly>\r\n",
        e = attr(&evil),
        c = attr(&comp),
    );
    let file = format!("{IMG}\u{1b}[31m\".dll");
    let manifest = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\">\r\n  <assemblyIdentity name=\"{c}\" version=\"{version}\" processorArchitecture=\"x86\" language=\"neutral\" buildType=\"release\" publicKeyToken=\"31bf3856ad364e35\" versionScope=\"nonSxS\" />\r\n  <file name=\"{f}\" destinationPath=\"$(runtime.system32)\\\" sourceName=\"{f}\" />\r\n</assembly>\r\n",
        c = attr(&comp),
        f = attr(&file),
    );
    let mut strings = VersionSpec::windows("evil.dll", &evil, [6, 0, 6002, 24570], "x").strings;
    for (k, v) in &mut strings {
        match k.as_str() {
            "CompanyName" => *v = evil.clone(),
            "FileVersion" => *v = format!("6.0.6002.24570 ({evil})"),
            "OriginalFilename" => *v = evil.clone(),
            _ => {}
        }
    }
    let pe = build_pe(&PeSpec {
        machine: Machine::I386,
        kind: PeKind::Dll,
        timestamp: 1_554_000_000,
        version: Some(VersionSpec {
            file_version: [6, 0, 6002, 24570],
            product_version: [6, 0, 6002, 24570],
            lang_codepage: "040904B0".into(),
            strings,
        }),
        body_len: 512,
        seed: 7,
    });
    write_cab(&CabSpec {
        folders: vec![CabFolder {
            compression: Compression::MsZip,
            files: vec![
                CabFile::new("update.mum", mum.into_bytes()),
                CabFile::new(format!("{key}.manifest"), manifest.into_bytes()),
                CabFile::new(format!("{key}\\{file}"), pe),
            ],
        }],
        set_id: 1,
        reserve: None,
    })
}

/// Writes the hostile cabinet (built now, never committed: `corpus/synthetic` has a
/// baseline others depend on) into `dir/in/` and returns the HTML report of it.
fn hostile_report(dir: &Path) -> String {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    std::fs::write(input.join("Windows6.0-KB0-x86.cab"), hostile_cab()).expect("write");
    html_report(&input, dir, "hostile.html", "1")
}

#[test]
fn hostile_package_strings_are_escaped_and_printable() {
    let dir = tempdir();
    let html = hostile_report(dir.path());
    // The strings did reach the report (else this test proves nothing) …
    let escaped = "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;";
    assert!(html.matches(escaped).count() >= 4, "escaped in tables");
    assert!(html.contains("&quot;q&#x27; &amp; &lt;b onmouseover=alert(2)&gt;"));
    assert!(
        html.contains("&lt;img src=x onerror=alert(3)&gt;"),
        "component and file names"
    );
    for field in ["display name", "description", "company"] {
        assert!(
            html.contains(&format!(
                "<dt>{field}</dt><dd>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;q&#x27;"
            )),
            "update.mum {field}"
        );
    }
    // … in the charts too (escaped by the SVG backend).
    assert!(
        html.contains("evil-&lt;img src=x onerror=alert(3)&gt;-&quot;q&apos;-&amp;-\\u{1b}[31m"),
        "in a chart label"
    );
    // … as text only: no tag, and control characters made visible.
    assert_self_contained(&html);
    assert!(!html.contains("<b "));
    assert!(!html.contains('\u{1b}') && !html.contains('\u{7}'));
    assert!(html.contains("\\u{1b}[31m") && html.contains("\\u{7}"));
}

// ---- in a browser ---------------------------------------------------------------------

fn chromium() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    require::find("chromium")
}

/// Chromium, or `None` after [`require::skip`] said why the test does not run.
#[track_caller]
fn chromium_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        require::skip("chromium not installed (apt-get install chromium; .ci/run installs it)");
    }
    found
}

/// Runs headless Chromium on `page` with a fresh profile; all host names resolve to
/// nothing, so even a mistaken request cannot leave the machine (it is still logged).
fn run_chromium(chrome: &Path, page: &Path, work: &Path, extra: &[String]) -> Output {
    let profile = tempfile::tempdir_in(work).expect("profile dir");
    let url = format!("file://{}", page.display());
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        // Containers often have a small /dev/shm.
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend(extra.iter().cloned());
    args.push(url);
    // Output goes to files and the run has a deadline: a hung browser fails the test
    // instead of hanging the suite.
    let stdout_path = profile.path().join("stdout");
    let stderr_path = profile.path().join("stderr");
    let mut child = Command::new(chrome)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("run chromium");
    let deadline = std::time::Instant::now() + CHROMIUM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}: {args:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let out = Output {
        status,
        stdout: std::fs::read(&stdout_path).expect("read chromium stdout"),
        stderr: std::fs::read(&stderr_path).expect("read chromium stderr"),
    };
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Generous: a cold start on a loaded 2-core machine takes a few seconds.
const CHROMIUM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The URLs the page itself asked for, from Chromium's net log: every URL request job
/// whose initiator is not the browser ("not an origin": its own update/time/sign-in
/// checks, which `--host-resolver-rules` keeps from leaving the machine).
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).expect("read net log");
    let log: serde_json::Value = serde_json::from_str(&text).expect("net log is JSON");
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .expect("URL_REQUEST_START_JOB in the net log constants");
    let mut urls = Vec::new();
    for e in log["events"].as_array().expect("events") {
        if e["type"].as_u64() != Some(start) {
            continue;
        }
        let p = &e["params"];
        let (Some(url), initiator) = (p["url"].as_str(), p["initiator"].as_str()) else {
            continue;
        };
        if initiator != Some("not an origin") {
            urls.push(url.to_string());
        }
    }
    urls
}

fn network_requests(chrome: &Path, page: &Path, work: &Path) -> Vec<String> {
    let log = work.join(format!(
        "{}.netlog.json",
        page.file_stem().and_then(|s| s.to_str()).unwrap_or("page")
    ));
    run_chromium(
        chrome,
        page,
        work,
        &[
            format!("--log-net-log={}", log.display()),
            "--dump-dom".into(),
        ],
    );
    page_requests(&log)
        .into_iter()
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .collect()
}

/// The element names in a DOM dump, lower case.
fn element_names(dom: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = dom;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ':')
            .collect();
        if !name.is_empty() {
            names.insert(name.to_ascii_lowercase());
        }
    }
    names
}

/// What the template and the SVG backend write; anything else came from somewhere else.
const ELEMENTS: [&str; 38] = [
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "h3",
    "p",
    "nav",
    "a",
    "section",
    "div",
    "figure",
    "figcaption",
    "svg",
    "rect",
    "text",
    "line",
    "polyline",
    "circle",
    "polygon",
    "path",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "dl",
    "dt",
    "dd",
    "details",
    "summary",
    "strong",
    "footer",
];

#[test]
fn chromium_renders_the_synthetic_report_offline() {
    let Some(chrome) = chromium_or_skip() else {
        return;
    };
    let dir = tempdir();
    let work = dir.path();
    html_report(&root().join("corpus/synthetic"), work, "report.html", "2");
    let page = work.join("report.html");

    // 1. A screenshot that is not blank: many colours, a good share of non-white pixels.
    let shot = work.join("report.png");
    run_chromium(
        &chrome,
        &page,
        work,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400".into(),
        ],
    );
    let (colours, ink, total) = png_stats(&shot);
    assert!(
        colours >= 16,
        "only {colours} distinct colours: blank page?"
    );
    assert!(
        ink * 20 > total,
        "only {ink} of {total} pixels are not white: blank page?"
    );
    if let Some(keep) = std::env::var_os("KBSCAN_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("keep the screenshot");
    }

    // 2. The DOM after parsing: every section and chart, only our elements.
    let dom = String::from_utf8(run_chromium(&chrome, &page, work, &["--dump-dom".into()]).stdout)
        .expect("DOM is UTF-8");
    for id in SECTIONS.iter().chain(CHARTS.iter()) {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} not in the DOM");
    }
    assert_eq!(dom.matches("<svg ").count(), CHARTS.len());
    let unexpected: Vec<String> = element_names(&dom)
        .into_iter()
        .filter(|n| !ELEMENTS.contains(&n.as_str()) && !n.starts_with('!'))
        .collect();
    assert!(unexpected.is_empty(), "unexpected elements: {unexpected:?}");

    // 3. No request left the page (file: and data: only).
    let requests = network_requests(&chrome, &page, work);
    assert!(requests.is_empty(), "network requests: {requests:?}");
}

#[test]
fn chromium_net_log_check_sees_a_request_when_there_is_one() {
    // The control for the check above: a page that does refer to the network.
    let Some(chrome) = chromium_or_skip() else {
        return;
    };
    let dir = tempdir();
    let page = dir.path().join("control.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>control</p><img src=\"http://127.0.0.1:9/x.png\"></body></html>",
    )
    .expect("write");
    let requests = network_requests(&chrome, &page, dir.path());
    assert_eq!(requests, ["http://127.0.0.1:9/x.png"]);
}

#[test]
fn chromium_shows_hostile_strings_as_text() {
    let Some(chrome) = chromium_or_skip() else {
        return;
    };
    let dir = tempdir();
    hostile_report(dir.path());
    let page = dir.path().join("hostile.html");
    let dom =
        String::from_utf8(run_chromium(&chrome, &page, dir.path(), &["--dump-dom".into()]).stdout)
            .expect("DOM is UTF-8");
    assert!(!dom.contains("<script"), "a script element in the DOM");
    assert!(
        !dom.contains("<b "),
        "an element made from a package string"
    );
    let unexpected: Vec<String> = element_names(&dom)
        .into_iter()
        .filter(|n| !ELEMENTS.contains(&n.as_str()) && !n.starts_with('!'))
        .collect();
    assert!(unexpected.is_empty(), "unexpected elements: {unexpected:?}");
    // The text is there, as text (the DOM serialiser re-escapes it).
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let requests = network_requests(&chrome, &page, dir.path());
    assert!(requests.is_empty(), "network requests: {requests:?}");
}

/// (distinct colours, non-white pixels, pixels) of a PNG.
fn png_stats(path: &Path) -> (usize, usize, usize) {
    let file = std::fs::File::open(path).expect("open screenshot");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let mut colours = BTreeSet::new();
    let mut ink = 0;
    let mut total = 0;
    for px in pixels.chunks_exact(channels) {
        let rgb = match channels {
            1 | 2 => [px[0], px[0], px[0]],
            _ => [px[0], px[1], px[2]],
        };
        colours.insert(rgb);
        total += 1;
        if rgb.iter().any(|c| *c < 240) {
            ink += 1;
        }
    }
    (colours.len(), ink, total)
}

#[test]
fn chromium_prints_the_collapsed_package_details() {
    // Paper cannot expand a <details>: the print style opens them. Proof through the PDF's
    // text, because a DOM dump shows closed details' content too.
    let Some(chrome) = chromium_or_skip() else {
        return;
    };
    let Some(pdftotext) = require::tool_path("pdftotext") else {
        return;
    };
    let dir = tempdir();
    let work = dir.path();
    html_report(&root().join("corpus/synthetic"), work, "report.html", "2");
    let page = work.join("report.html");
    let html = std::fs::read_to_string(&page).expect("read report");
    let file_tables = html.matches("<th>FileVersion string</th>").count();
    assert!(
        file_tables > 20,
        "only {file_tables} per-package file tables"
    );
    assert!(
        html.contains("<details class=\"package\">"),
        "details are closed on screen"
    );
    let pdf = work.join("report.pdf");
    run_chromium(
        &chrome,
        &page,
        work,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
    let out = Command::new(pdftotext)
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(out.status.success(), "pdftotext failed");
    let text = String::from_utf8_lossy(&out.stdout);
    // At least once per table: a table that crosses a page repeats its header row.
    let printed = text.matches("FileVersion string").count();
    assert!(
        printed >= file_tables,
        "{printed} file-table headers on paper for {file_tables} packages: details printed closed?"
    );
}
