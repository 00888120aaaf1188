//! Revision ceilings: the rules (data, in TOML) and the per-version findings.

use crate::order::{component_arch, Ordered};
use kbscan_version::{Nt6Revision, Track, Version, NT6_COUNTER_MAX};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The rules kbscan ships with; see the file for what each rule means.
pub const DEFAULT_CEILINGS_TOML: &str = include_str!("default_ceilings.toml");

/// How a rule measures a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// The revision against a fixed ceiling (65535 unless the rule says otherwise).
    Plain,
    /// The NT 6.x layout: the 12-bit counter against the top of its track window.
    Nt6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleOrigin {
    Default,
    User,
}

/// One ceiling rule, as used (the report lists the rules it applied).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// `*`, `major`, `major.minor` or `major.minor.build`.
    pub os: String,
    /// The rule applies only to builds at or above this one.
    pub min_build: Option<u16>,
    pub scheme: Scheme,
    /// Revision ceiling of a plain rule; `null` for nt6 (the track window decides).
    pub ceiling: Option<u16>,
    pub close_headroom: Option<u32>,
    pub close_percent: Option<f64>,
    pub note: Option<String>,
    pub origin: RuleOrigin,
    #[serde(skip)]
    pattern: Vec<u16>,
}

impl Rule {
    fn matches(&self, v: Version) -> bool {
        let fields = [v.major, v.minor, v.build];
        self.pattern.iter().zip(fields).all(|(p, f)| *p == f)
            && self.min_build.is_none_or(|b| v.build >= b)
    }
}

/// What counts as close to a ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// Close when at most this many values are left …
    pub headroom: u32,
    /// … or at most this percentage of the measured range, whichever is larger.
    pub percent: f64,
}

/// The ceiling rules in force: the defaults, possibly with a user file on top.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CeilingRules {
    pub close: Threshold,
    pub rules: Vec<Rule>,
}

#[derive(Debug, thiserror::Error)]
pub enum CeilingsError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("rule {index} (os = {os:?}): {message}")]
    Rule {
        index: usize,
        os: String,
        message: String,
    },
    #[error("[close]: {0}")]
    Close(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    close: Option<RawClose>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClose {
    headroom: Option<u32>,
    percent: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    os: String,
    min_build: Option<u16>,
    scheme: Scheme,
    ceiling: Option<u16>,
    close_headroom: Option<u32>,
    close_percent: Option<f64>,
    note: Option<String>,
}

fn check_percent(p: f64) -> Result<f64, String> {
    if p.is_finite() && (0.0..=100.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("percent must be between 0 and 100, got {p}"))
    }
}

fn parse_pattern(os: &str) -> Result<Vec<u16>, String> {
    if os == "*" {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = os.split('.').collect();
    if parts.len() > 3 {
        return Err("expected \"*\", \"major\", \"major.minor\" or \"major.minor.build\"".into());
    }
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "{p:?} is not a number; expected \"*\" or e.g. \"6.0.6002\""
                ));
            }
            p.parse::<u16>()
                .map_err(|_| format!("{p} does not fit in 16 bits"))
        })
        .collect()
}

impl CeilingRules {
    /// The rules that ship with kbscan.
    pub fn defaults() -> CeilingRules {
        let empty = CeilingRules {
            close: Threshold {
                headroom: 64,
                percent: 1.0,
            },
            rules: Vec::new(),
        };
        // The embedded file is ours and a unit test parses it; if it were ever broken the
        // fallback still measures every revision against 65535 rather than failing a run.
        empty
            .apply(DEFAULT_CEILINGS_TOML, RuleOrigin::Default)
            .unwrap_or_else(|_| CeilingRules {
                close: Threshold {
                    headroom: 64,
                    percent: 1.0,
                },
                rules: vec![Rule {
                    os: "*".into(),
                    min_build: None,
                    scheme: Scheme::Plain,
                    ceiling: Some(u16::MAX),
                    close_headroom: None,
                    close_percent: None,
                    note: None,
                    origin: RuleOrigin::Default,
                    pattern: Vec::new(),
                }],
            })
    }

    /// The defaults with a user's TOML on top (`--ceilings FILE`).
    pub fn with_user_toml(text: &str) -> Result<CeilingRules, CeilingsError> {
        CeilingRules::defaults().apply(text, RuleOrigin::User)
    }

    /// Adds the rules of `text`: a rule with the same `os` and `min_build` as an
    /// existing one replaces it, any other is appended (later rules win ties).
    pub fn apply(mut self, text: &str, origin: RuleOrigin) -> Result<CeilingRules, CeilingsError> {
        let raw: RawFile = toml::from_str(text)?;
        if let Some(c) = raw.close {
            if let Some(h) = c.headroom {
                self.close.headroom = h;
            }
            if let Some(p) = c.percent {
                self.close.percent = check_percent(p).map_err(CeilingsError::Close)?;
            }
        }
        for (i, r) in raw.rule.into_iter().enumerate() {
            let err = |message: String| CeilingsError::Rule {
                index: i + 1,
                os: r.os.clone(),
                message,
            };
            let pattern = parse_pattern(r.os.trim()).map_err(err)?;
            let ceiling = match (r.scheme, r.ceiling) {
                (Scheme::Nt6, Some(_)) => {
                    return Err(err(
                        "`ceiling` applies to scheme \"plain\" only; nt6 ceilings are the track windows".into(),
                    ))
                }
                (Scheme::Nt6, None) => None,
                (Scheme::Plain, c) => Some(c.unwrap_or(u16::MAX)),
            };
            let close_percent = r
                .close_percent
                .map(check_percent)
                .transpose()
                .map_err(err)?;
            let rule = Rule {
                os: r.os.trim().to_string(),
                min_build: r.min_build,
                scheme: r.scheme,
                ceiling,
                close_headroom: r.close_headroom,
                close_percent,
                note: r.note.clone(),
                origin,
                pattern,
            };
            match self
                .rules
                .iter_mut()
                .find(|e| e.pattern == rule.pattern && e.min_build == rule.min_build)
            {
                Some(existing) => *existing = rule,
                None => self.rules.push(rule),
            }
        }
        Ok(self)
    }

    /// The rule that governs `v`: the most specific matching `os`, the later rule on a
    /// tie. `None` only when no rule matches (a user file cannot remove the `*` default).
    pub fn rule_for(&self, v: Version) -> Option<&Rule> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(v))
            .max_by_key(|(i, r)| (r.pattern.len(), r.min_build.is_some(), *i))
            .map(|(_, r)| r)
    }

    /// Measures `v` against its rule.
    pub fn measure(&self, v: Version) -> Measure {
        let rule = self.rule_for(v);
        let scheme = rule.map_or(Scheme::Plain, |r| r.scheme);
        let (nt6, value, limit, ceiling) = match scheme {
            Scheme::Nt6 => {
                let d = Nt6Revision::decode(v.revision);
                (
                    Some(Nt6Facts::from(d)),
                    d.counter,
                    NT6_COUNTER_MAX,
                    d.window_ceiling(),
                )
            }
            Scheme::Plain => {
                let c = rule.and_then(|r| r.ceiling).unwrap_or(u16::MAX);
                (None, v.revision, c, c)
            }
        };
        let headroom = i32::from(limit) - i32::from(value);
        let abs = rule
            .and_then(|r| r.close_headroom)
            .unwrap_or(self.close.headroom);
        let pct = rule
            .and_then(|r| r.close_percent)
            .unwrap_or(self.close.percent);
        // The range is what the measure can span (0..=limit); 1% of 4095 is 40.
        let by_pct = (f64::from(limit) * pct / 100.0).floor() as i64;
        let allowed = i64::from(abs).max(by_pct);
        Measure {
            rule: rule.map_or_else(|| "*".to_string(), |r| r.os.clone()),
            scheme,
            nt6,
            ceiling,
            value,
            limit,
            headroom,
            close: i64::from(headroom) <= allowed,
        }
    }
}

/// The NT 6.x fields of a revision, for output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Nt6Facts {
    pub track: Track,
    pub public: bool,
    pub non_milestone: bool,
    pub counter: u16,
    pub counter_headroom: u16,
    pub window_floor: u16,
    pub window_ceiling: u16,
}

impl From<Nt6Revision> for Nt6Facts {
    fn from(d: Nt6Revision) -> Self {
        Nt6Facts {
            track: d.track,
            public: d.public,
            non_milestone: d.non_milestone,
            counter: d.counter,
            counter_headroom: d.counter_headroom(),
            window_floor: d.window_floor(),
            window_ceiling: d.window_ceiling(),
        }
    }
}

/// A version measured against its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub rule: String,
    pub scheme: Scheme,
    pub nt6: Option<Nt6Facts>,
    /// The revision that is the ceiling (the window top for nt6).
    pub ceiling: u16,
    /// What is measured: the counter (nt6) or the revision (plain) …
    pub value: u16,
    /// … and its limit (4095 or the plain ceiling).
    pub limit: u16,
    pub headroom: i32,
    pub close: bool,
}

/// Where a version was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionKind {
    /// A component identity (manifest, key or `update.mum`).
    Component,
    /// A PE file's `VS_FIXEDFILEINFO` file version.
    File,
}

/// One distinct version of one component (name + architecture) or file (name).
#[derive(Debug, Clone, Serialize)]
pub struct CeilingFinding {
    pub kind: VersionKind,
    pub name: String,
    /// The component's architecture; for a file, every architecture it was seen in.
    pub architectures: Vec<String>,
    pub version: Version,
    pub revision: u16,
    /// To the 16-bit limit, 65535.
    pub revision_headroom: u16,
    /// The NT 6.x decoding, where the governing rule's scheme is nt6.
    pub nt6: Option<Nt6Facts>,
    /// `os` of the governing rule.
    pub rule: String,
    pub scheme: Scheme,
    /// The revision that is the ceiling for this version.
    pub ceiling: u16,
    /// Values left: counter values for nt6, revisions for plain (negative: past it).
    pub headroom: i32,
    pub close: bool,
    /// Packages (KB, else source) carrying it, in release order.
    pub packages: Vec<String>,
    /// How many components or files carry it across the corpus.
    pub occurrences: u32,
    #[serde(skip)]
    pub(crate) in_public_package: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CeilingReport {
    pub close: Threshold,
    pub rules: Vec<Rule>,
    pub findings_close: u32,
    /// Closest first: close ones, then by headroom, then by name and version.
    pub findings: Vec<CeilingFinding>,
}

pub(crate) fn findings(ordered: &Ordered<'_>, rules: &CeilingRules) -> CeilingReport {
    // Key: kind, lower-case name, architecture (components only), version.
    type Key = (VersionKind, String, String, Version);
    struct Acc {
        name: String,
        archs: BTreeSet<String>,
        packages: Vec<String>,
        occurrences: u32,
        public: bool,
    }
    let mut acc: BTreeMap<Key, Acc> = BTreeMap::new();
    let mut add = |key: Key, display: &str, arch: String, label: &str, public: bool| {
        let a = acc.entry(key).or_insert_with(|| Acc {
            name: display.to_string(),
            archs: BTreeSet::new(),
            packages: Vec::new(),
            occurrences: 0,
            public: false,
        });
        a.archs.insert(arch);
        if !a.packages.iter().any(|p| p == label) {
            a.packages.push(label.to_string());
        }
        a.occurrences += 1;
        a.public |= public;
    };
    for pkg in ordered.all() {
        let label = pkg.reference.label();
        // A package is public when it was released under a KB number.
        let public = pkg.p.kb.is_some();
        for c in &pkg.p.components {
            if let Some(v) = c.version {
                let arch = component_arch(c.architecture.as_deref());
                let key = (
                    VersionKind::Component,
                    c.name.to_ascii_lowercase(),
                    arch.clone(),
                    v,
                );
                add(key, &c.name.to_ascii_lowercase(), arch, &label, public);
            }
        }
        for f in &pkg.p.files {
            if let Some(v) = f.versions.pe_file {
                let arch = crate::file_arch(pkg.p, f);
                let key = (
                    VersionKind::File,
                    f.name.to_ascii_lowercase(),
                    String::new(),
                    v,
                );
                add(key, &f.name, arch, &label, public);
            }
        }
    }
    let mut findings: Vec<CeilingFinding> = acc
        .into_iter()
        .map(|((kind, _, _, version), a)| {
            let m = rules.measure(version);
            CeilingFinding {
                kind,
                name: a.name,
                architectures: a.archs.into_iter().collect(),
                version,
                revision: version.revision,
                revision_headroom: version.revision_headroom(),
                nt6: m.nt6,
                rule: m.rule,
                scheme: m.scheme,
                ceiling: m.ceiling,
                headroom: m.headroom,
                close: m.close,
                packages: a.packages,
                occurrences: a.occurrences,
                in_public_package: a.public,
            }
        })
        .collect();
    findings.sort_by(|a, b| {
        (
            !a.close,
            a.headroom,
            a.kind,
            a.name.to_ascii_lowercase(),
            &a.architectures,
            a.version,
        )
            .cmp(&(
                !b.close,
                b.headroom,
                b.kind,
                b.name.to_ascii_lowercase(),
                &b.architectures,
                b.version,
            ))
    });
    CeilingReport {
        close: rules.close,
        rules: rules.rules.clone(),
        findings_close: findings.iter().filter(|f| f.close).count() as u32,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().expect("test version")
    }

    #[test]
    fn defaults_parse_and_decode_the_6002_kernel() {
        let r = CeilingRules::defaults();
        assert_eq!(r.rules.len(), 2, "{r:?}");
        assert_eq!(
            r.close,
            Threshold {
                headroom: 64,
                percent: 1.0
            }
        );
        let m = r.measure(v("6.0.6002.24566"));
        assert_eq!(m.scheme, Scheme::Nt6);
        let d = m.nt6.expect("nt6");
        assert_eq!(
            (d.track, d.counter, d.counter_headroom, d.window_ceiling),
            (Track::Ldr, 4086, 9, 24575)
        );
        assert_eq!((m.headroom, m.ceiling, m.close), (9, 24575, true));
        // 64 is close (the threshold is inclusive), 65 is not: 1% of 4095 is only 40.
        assert!(r.measure(v("6.0.6002.24511")).close);
        assert!(!r.measure(v("6.0.6002.24510")).close);
        // A fresh 6003 window is nowhere near.
        let m = r.measure(v("6.0.6003.20489"));
        assert_eq!((m.headroom, m.close), (4086, false));
    }

    #[test]
    fn plain_scheme_outside_nt6() {
        let r = CeilingRules::defaults();
        for s in ["10.0.17763.1", "6.0.2900.5512", "5.2.3790.4000"] {
            let m = r.measure(v(s));
            assert_eq!(
                (m.scheme, m.nt6, m.ceiling),
                (Scheme::Plain, None, 65535),
                "{s}"
            );
        }
        // 1% of 65535 = 655 beats 64 for the 16-bit range.
        assert!(r.measure(v("10.0.1.64880")).close);
        assert!(!r.measure(v("10.0.1.64879")).close);
    }

    #[test]
    fn user_rules_override_and_add() {
        let user = r#"
            [close]
            headroom = 100

            [[rule]]
            os = "6"
            min_build = 6000
            scheme = "nt6"
            close_headroom = 10
            note = "stricter"

            [[rule]]
            os = "6.1.7601"
            scheme = "plain"
            ceiling = 24575

            [[rule]]
            os = "8.0.6001"
            scheme = "nt6"
        "#;
        let r = CeilingRules::with_user_toml(user).expect("valid");
        assert_eq!(r.close.headroom, 100);
        assert_eq!(r.close.percent, 1.0, "untouched field keeps the default");
        assert_eq!(r.rules.len(), 4, "the `6` rule replaced, two added");
        assert_eq!(r.rules[1].origin, RuleOrigin::User);
        // Per-rule threshold 10 wins over the file-wide 100 (and 1% = 40).
        let m = r.measure(v("6.0.6002.24535"));
        assert_eq!((m.headroom, m.close), (40, true), "40 ≤ max(10, 40)");
        assert!(!r.measure(v("6.0.6002.24530")).close, "45 > 40");
        // Most specific rule wins: Win7 measured as plain against 24575.
        let m = r.measure(v("6.1.7601.24576"));
        assert_eq!(
            (m.scheme, m.ceiling, m.headroom, m.close),
            (Scheme::Plain, 24575, -1, true)
        );
        assert_eq!(r.measure(v("6.1.7600.16385")).scheme, Scheme::Nt6);
        let m = r.measure(v("8.0.6001.23501"));
        assert_eq!(
            (m.scheme, m.headroom),
            (Scheme::Nt6, 4095 - (23501 - 0x5000))
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |t: &str| CeilingRules::with_user_toml(t).expect_err(t).to_string();
        assert!(
            err("[[rule]\nos = 1").contains("line"),
            "syntax errors carry a position"
        );
        assert!(err("[[rule]]\nos = \"6\"\nscheme = \"gdr\"").contains("unknown variant"));
        assert!(err("[[rule]]\nos = \"6\"\nscheme = \"plain\"\nceiling = 70000").contains("70000"));
        assert!(err("[[rule]]\nos = \"6.x\"\nscheme = \"plain\"").contains("\"x\" is not a number"));
        assert!(err("[[rule]]\nos = \"6.0.1.2\"\nscheme = \"plain\"").contains("major.minor.build"));
        assert!(err("[[rule]]\nos = \"6\"\nscheme = \"nt6\"\nceiling = 24575").contains("plain"));
        assert!(err("[close]\npercent = 150.0").contains("between 0 and 100"));
        assert!(
            err("[[rule]]\nos = \"6\"\nscheme = \"nt6\"\ncolse_headroom = 3")
                .contains("unknown field")
        );
    }
}
