//! Windows file and package versions: four 16-bit numbers, ordered numerically.
//!
//! This crate is the vocabulary every other kbscan crate shares. It does no I/O and
//! must never compare versions as strings: `6.0.6002.9999 < 6.0.6002.24566`.
//!
//! It also decodes the NT 6.x servicing layout of the revision field
//! (`bit 15 non-milestone | bit 14 public | bits 13-12 track | bits 11-0 counter`),
//! which is what makes 24575 (0x5FFF) the practical ceiling of a 6.x LDR branch.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// `major.minor.build.revision`. Field order matters: the derived `Ord` compares
/// major first, then minor, build and revision, numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
    pub build: u16,
    pub revision: u16,
}

/// The largest value any of the four fields can hold.
pub const FIELD_MAX: u16 = u16::MAX;

impl Version {
    pub const fn new(major: u16, minor: u16, build: u16, revision: u16) -> Self {
        Version {
            major,
            minor,
            build,
            revision,
        }
    }

    /// From the two dwords of `VS_FIXEDFILEINFO` (`dwFileVersionMS`, `dwFileVersionLS`).
    pub const fn from_ms_ls(ms: u32, ls: u32) -> Self {
        Version::new(
            (ms >> 16) as u16,
            (ms & 0xFFFF) as u16,
            (ls >> 16) as u16,
            (ls & 0xFFFF) as u16,
        )
    }

    pub const fn is_zero(&self) -> bool {
        self.major == 0 && self.minor == 0 && self.build == 0 && self.revision == 0
    }

    /// `major.minor.build`: the OS build a file belongs to (e.g. 6.0.6003).
    pub const fn os_build(&self) -> OsBuild {
        OsBuild {
            major: self.major,
            minor: self.minor,
            build: self.build,
        }
    }

    /// Headroom of the revision to the hard 16-bit limit.
    pub const fn revision_headroom(&self) -> u16 {
        FIELD_MAX - self.revision
    }

    /// Decodes the NT 6.x revision layout. `None` when the scheme does not apply
    /// (major version other than 6: Windows 10 uses a plain counter, and anything
    /// older or non-OS software has its own numbering).
    pub const fn nt6(&self) -> Option<Nt6Revision> {
        if self.major != 6 {
            return None;
        }
        Some(Nt6Revision::decode(self.revision))
    }

    /// Leniently finds a version at the start of strings such as
    /// `6.0.6003.20489 (vistasp2_ldr_escrow.190320-1700)`. Returns the version and
    /// the rest of the string after it (trimmed). Accepts `,` as separator (old
    /// resource compilers write `6, 0, 6002, 1`).
    pub fn parse_prefix(s: &str) -> Option<(Version, &str)> {
        let s = s.trim_start();
        let mut fields = [0u16; 4];
        let mut rest = s;
        for (i, field) in fields.iter_mut().enumerate() {
            if i > 0 {
                let r = rest.trim_start();
                let r = r.strip_prefix('.').or_else(|| r.strip_prefix(','))?;
                rest = r.trim_start();
            }
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            *field = rest[..digits].parse().ok()?;
            rest = &rest[digits..];
        }
        // A fifth numeric field means this was not a four-part version.
        if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        Some((
            Version::new(fields[0], fields[1], fields[2], fields[3]),
            rest.trim(),
        ))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.major, self.minor, self.build, self.revision
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseVersionError(pub String);

impl fmt::Display for ParseVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a four-part version (a.b.c.d, each 0-65535): {:?}",
            self.0
        )
    }
}
impl std::error::Error for ParseVersionError {}

impl FromStr for Version {
    type Err = ParseVersionError;
    /// Strict: exactly four dot-separated decimal fields, each fitting in 16 bits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.chars().take(64).collect());
        let mut it = s.split('.');
        let mut f = [0u16; 4];
        for slot in &mut f {
            let part = it.next().ok_or_else(err)?;
            if part.is_empty() || part.len() > 5 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            *slot = part.parse().map_err(|_| err())?;
        }
        if it.next().is_some() {
            return Err(err());
        }
        Ok(Version::new(f[0], f[1], f[2], f[3]))
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `major.minor.build` — what "an OS build" means for build-move analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OsBuild {
    pub major: u16,
    pub minor: u16,
    pub build: u16,
}

impl OsBuild {
    /// The service-pack level NT 6.x encodes in the low nibble of the build
    /// (6000 RTM, 6001 SP1, 6002 SP2; 6003 reads as "SP3" there).
    pub const fn service_pack_nibble(&self) -> u16 {
        self.build & 0xF
    }
}

impl fmt::Display for OsBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

impl Serialize for OsBuild {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The two track bits of an NT 6.x revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    /// General Distribution Release: 0x4000-0x4FFF for public milestones.
    Gdr,
    /// Limited Distribution Release (hotfix branch): 0x5000-0x5FFF.
    Ldr,
    /// Track 2: not used by 6.x servicing until Windows 7 ran out of LDR room in 2021.
    Unused,
    /// Track 3: private builds.
    Private,
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Track::Gdr => "GDR",
            Track::Ldr => "LDR",
            Track::Unused => "unused",
            Track::Private => "private",
        })
    }
}

/// An NT 6.x revision split into its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Nt6Revision {
    pub non_milestone: bool,
    pub public: bool,
    pub track: Track,
    /// The 12-bit counter (0-4095).
    pub counter: u16,
}

/// The largest value of the 12-bit servicing counter.
pub const NT6_COUNTER_MAX: u16 = 0x0FFF;

impl Nt6Revision {
    pub const fn decode(revision: u16) -> Self {
        Nt6Revision {
            non_milestone: revision & 0x8000 != 0,
            public: revision & 0x4000 != 0,
            track: match (revision >> 12) & 0x3 {
                0 => Track::Gdr,
                1 => Track::Ldr,
                2 => Track::Unused,
                _ => Track::Private,
            },
            counter: revision & NT6_COUNTER_MAX,
        }
    }

    /// Counter values left before the track window is exhausted.
    pub const fn counter_headroom(&self) -> u16 {
        NT6_COUNTER_MAX - self.counter
    }

    /// The highest revision of this revision's track window (e.g. 0x5FFF = 24575 for
    /// public LDR).
    pub const fn window_ceiling(&self) -> u16 {
        self.window_floor() | NT6_COUNTER_MAX
    }

    /// The lowest revision of this revision's track window (e.g. 0x5000 for public LDR).
    pub const fn window_floor(&self) -> u16 {
        (if self.non_milestone { 0x8000 } else { 0 })
            | (if self.public { 0x4000 } else { 0 })
            | ((self.track as u16) << 12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn numeric_not_lexical_order() {
        assert!(v("6.0.6002.9999") < v("6.0.6002.24566"));
        assert!(v("6.0.6002.24566") < v("6.0.6003.20489"));
        assert!(v("6.0.6003.2") < v("6.0.6003.10"));
        assert!(
            "6.0.6002.9999" > "6.0.6002.24566",
            "strings would sort wrongly"
        );
        let mut vs = [
            v("6.1.7601.24576"),
            v("6.0.6003.20489"),
            v("6.0.6002.24566"),
            v("6.0.6002.9999"),
        ];
        vs.sort();
        assert_eq!(
            vs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "6.0.6002.9999",
                "6.0.6002.24566",
                "6.0.6003.20489",
                "6.1.7601.24576"
            ]
        );
    }

    #[test]
    fn strict_parse_rejects_junk() {
        for bad in [
            "",
            "6.0.6002",
            "6.0.6002.1.2",
            "6.0.6002.65536",
            "6.0.-1.2",
            "6..6002.1",
            "a.b.c.d",
            "6.0.6002.1 ",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad:?}");
        }
        assert_eq!(v("65535.0.0.65535"), Version::new(65535, 0, 0, 65535));
    }

    #[test]
    fn prefix_parse_takes_branch_tag_off() {
        let (ver, rest) =
            Version::parse_prefix("6.0.6003.20489 (vistasp2_ldr_escrow.190320-1700)").unwrap();
        assert_eq!(ver, v("6.0.6003.20489"));
        assert_eq!(rest, "(vistasp2_ldr_escrow.190320-1700)");
        assert_eq!(
            Version::parse_prefix("6, 0, 6002, 18005").unwrap().0,
            v("6.0.6002.18005")
        );
        assert!(Version::parse_prefix("6.0.6002").is_none());
        assert!(Version::parse_prefix("1.2.3.4.5").is_none());
        assert!(Version::parse_prefix("6.0.6002.99999").is_none());
    }

    #[test]
    fn ms_ls_round_trip() {
        let ver = Version::from_ms_ls(0x0006_0000, (6002 << 16) | 24566);
        assert_eq!(ver, v("6.0.6002.24566"));
    }

    /// The worked decodings of domain.md §2.
    #[test]
    fn nt6_decodings() {
        let cases = [
            ("6.0.6000.16386", Track::Gdr, 2),
            ("6.0.6002.18005", Track::Gdr, 1621),
            ("6.0.6002.24463", Track::Ldr, 3983),
            ("6.0.6002.24566", Track::Ldr, 4086),
            ("6.0.6003.20489", Track::Ldr, 9),
            ("6.1.7601.17514", Track::Gdr, 1130),
            ("6.1.7601.24576", Track::Unused, 0),
        ];
        for (s, track, counter) in cases {
            let d = v(s).nt6().unwrap();
            assert_eq!((d.track, d.counter), (track, counter), "{s}");
            assert!(d.public && !d.non_milestone, "{s}");
        }
        let d = v("6.0.6002.24566").nt6().unwrap();
        assert_eq!(d.counter_headroom(), 9);
        assert_eq!(d.window_ceiling(), 24575);
        assert_eq!(d.window_floor(), 0x5000);
        assert_eq!(v("6.0.6002.24566").revision_headroom(), 65535 - 24566);
        assert!(v("10.0.17763.1").nt6().is_none());
        assert_eq!(v("6.0.6003.1").os_build().service_pack_nibble(), 3);
    }

    #[test]
    fn serde_as_string() {
        let s = serde_json::to_string(&v("6.0.6002.24566")).unwrap();
        assert_eq!(s, "\"6.0.6002.24566\"");
        let back: Version = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v("6.0.6002.24566"));
    }
}
