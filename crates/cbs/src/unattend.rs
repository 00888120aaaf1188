use crate::dom;
use crate::error::CbsError;
use crate::identity::{opt, read_identity, AssemblyIdentity};
use crate::ns;
use serde::Serialize;

/// The MSU's unattend `.xml`: which package to install from which CAB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unattend {
    pub packages: Vec<UnattendPackage>,
}

/// `unattend/servicing/package`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnattendPackage {
    /// `@action`, e.g. `install`.
    pub action: Option<String>,
    pub identity: Option<AssemblyIdentity>,
    /// `source/@location`, e.g. `%configsetroot%\Windows6.1-KB2999226-x64.CAB`.
    pub source_location: Option<String>,
}

/// Parses the unattend file (root `unattend` in `urn:schemas-microsoft-com:unattend`).
pub fn parse_unattend(bytes: &[u8]) -> Result<Unattend, CbsError> {
    let u = ns::UNATTEND;
    let root = dom::parse_root(
        bytes,
        &[u],
        "unattend",
        "{urn:schemas-microsoft-com:unattend}unattend",
    )?;
    let mut packages = Vec::new();
    for servicing in root.children_named(u, "servicing") {
        for package in servicing.children_named(u, "package") {
            let identity = package
                .child(u, "assemblyIdentity")
                .map(read_identity)
                .transpose()?;
            let source_location = package.child(u, "source").and_then(|s| opt(s, "location"));
            packages.push(UnattendPackage {
                action: opt(package, "action"),
                identity,
                source_location,
            });
        }
    }
    Ok(Unattend { packages })
}
