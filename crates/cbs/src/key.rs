use crate::limits;
use kbscan_version::Version;
use serde::Serialize;

/// A component key as used for manifest and folder names:
/// `<arch>_<name>_<publicKeyToken>_<version>_<culture|none>_<hash>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentKey {
    /// `x86`, `amd64`, `wow64`, `msil`, `ia64`, ... (not validated).
    pub arch: String,
    /// Lower-case, possibly abbreviated with `..` (`microsoft-windows-u..salcrt-apifwd-vista`);
    /// the full name is in the manifest's `assemblyIdentity`.
    pub name: String,
    pub public_key_token: String,
    /// `None` when the field is not a strict `a.b.c.d`.
    pub version: Option<Version>,
    /// `none` for culture-neutral components.
    pub culture: String,
    /// Opaque.
    pub hash: String,
}

/// Splits a component key. The first field is the arch, the last four are token,
/// version, culture and hash; everything between is the name (which may contain `_`).
/// A trailing `.manifest` is ignored. `None` if a field is empty or missing.
pub fn parse_component_key(key: &str) -> Option<ComponentKey> {
    if key.len() > limits::MAX_COMPONENT_KEY_LEN {
        return None;
    }
    let key = key.trim();
    let key = match key
        .len()
        .checked_sub(".manifest".len())
        .and_then(|i| key.get(i..))
    {
        Some(ext) if ext.eq_ignore_ascii_case(".manifest") => key.get(..key.len() - ext.len())?,
        _ => key,
    };
    let (arch, rest) = key.split_once('_')?;
    let (rest, hash) = rest.rsplit_once('_')?;
    let (rest, culture) = rest.rsplit_once('_')?;
    let (rest, version) = rest.rsplit_once('_')?;
    let (name, token) = rest.rsplit_once('_')?;
    if [arch, name, token, version, culture, hash]
        .iter()
        .any(|f| f.is_empty())
    {
        return None;
    }
    Some(ComponentKey {
        arch: arch.to_owned(),
        name: name.to_owned(),
        public_key_token: token.to_owned(),
        version: version.parse().ok(),
        culture: culture.to_owned(),
        hash: hash.to_owned(),
    })
}
