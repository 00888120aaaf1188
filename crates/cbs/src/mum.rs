use crate::dom::{self, Element};
use crate::error::CbsError;
use crate::identity::{opt, read_identities, read_identity, Anomaly, AssemblyIdentity};
use crate::ns;
use serde::Serialize;

/// `update.mum` or a `Package_*.mum`: a package and what it updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageMum {
    pub identity: AssemblyIdentity,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub company: Option<String>,
    pub copyright: Option<String>,
    pub support_information: Option<String>,
    /// As written, e.g. `2015-09-10T14:57:56Z`.
    pub creation_time_stamp: Option<String>,
    /// `package@identifier` as written (`KB2999226`, `KB2999226_BF`, ...).
    pub identifier: Option<String>,
    /// `KB` + the article number found at the start of `identifier`, e.g. `KB2999226`
    /// for both `KB2999226` and `KB2999226_BF`.
    pub kb: Option<String>,
    pub release_type: Option<String>,
    pub restart: Option<String>,
    /// Every `package/parent/assemblyIdentity` (a parent may list several).
    pub parents: Vec<AssemblyIdentity>,
    pub updates: Vec<UpdateEntry>,
    pub anomalies: Vec<Anomaly>,
}

/// One `<update>` of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateEntry {
    /// e.g. `2999226-1_neutral_LDR`.
    pub name: String,
    /// The suffix after the last `_` of `name`: `LDR`, `GDR`, `PACKAGE`, ...
    pub branch: Option<String>,
    /// `component/assemblyIdentity` and `applicable/updateComponent/assemblyIdentity`,
    /// in document order.
    pub components: Vec<AssemblyIdentity>,
    /// Sub-package references: `package/assemblyIdentity`.
    pub packages: Vec<AssemblyIdentity>,
}

/// Normalises a package identifier to `KB<digits>`; `None` if it holds no number.
pub(crate) fn normalise_kb(identifier: &str) -> Option<String> {
    let s = identifier.trim();
    let s = match s.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("kb") => s.get(2..).unwrap_or_default(),
        _ => s,
    };
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        None
    } else {
        Some(format!("KB{digits}"))
    }
}

pub(crate) fn branch_of(update_name: &str) -> Option<String> {
    let (_, suffix) = update_name.rsplit_once('_')?;
    let suffix = suffix.trim();
    (!suffix.is_empty()).then(|| suffix.to_owned())
}

fn read_update(
    el: &Element,
    ns: &str,
    anomalies: &mut Vec<Anomaly>,
) -> Result<UpdateEntry, CbsError> {
    let name = match el.attr("name") {
        Some(n) => n.to_owned(),
        None => {
            anomalies.push(Anomaly::new("update", Some("name"), "", "missing"));
            String::new()
        }
    };
    let mut components = Vec::new();
    let mut packages = Vec::new();
    for child in &el.children {
        if child.is(ns, "component") {
            components.extend(read_identities(child, ns)?);
        } else if child.is(ns, "applicable") {
            for uc in child.children_named(ns, "updateComponent") {
                components.extend(read_identities(uc, ns)?);
            }
        } else if child.is(ns, "package") {
            packages.extend(read_identities(child, ns)?);
        }
    }
    Ok(UpdateEntry {
        branch: branch_of(&name),
        name,
        components,
        packages,
    })
}

/// Parses `update.mum` or a `Package_*.mum` (root `assembly` in `asm.v3`).
pub fn parse_package_mum(bytes: &[u8]) -> Result<PackageMum, CbsError> {
    let root = dom::parse_root(
        bytes,
        &[ns::ASM_V3, ns::ASM_V1],
        "assembly",
        "{urn:schemas-microsoft-com:asm.v3}assembly",
    )?;
    let ns = root.ns.as_deref().unwrap_or(ns::ASM_V3);
    let identity = root
        .child(ns, "assemblyIdentity")
        .ok_or(CbsError::MissingElement("assemblyIdentity"))
        .and_then(read_identity)?;
    let mut anomalies = Vec::new();
    let mut mum = PackageMum {
        identity,
        description: opt(&root, "description"),
        display_name: opt(&root, "displayName"),
        company: opt(&root, "company"),
        copyright: opt(&root, "copyright"),
        support_information: opt(&root, "supportInformation"),
        creation_time_stamp: opt(&root, "creationTimeStamp"),
        identifier: None,
        kb: None,
        release_type: None,
        restart: None,
        parents: Vec::new(),
        updates: Vec::new(),
        anomalies: Vec::new(),
    };
    if let Some(package) = root.child(ns, "package") {
        mum.identifier = opt(package, "identifier");
        if let Some(id) = &mum.identifier {
            mum.kb = normalise_kb(id);
            if mum.kb.is_none() {
                anomalies.push(Anomaly::new(
                    "package",
                    Some("identifier"),
                    id,
                    "no KB number",
                ));
            }
        }
        mum.release_type = opt(package, "releaseType");
        mum.restart = opt(package, "restart");
        for parent in package.children_named(ns, "parent") {
            mum.parents.extend(read_identities(parent, ns)?);
        }
        for update in package.children_named(ns, "update") {
            mum.updates.push(read_update(update, ns, &mut anomalies)?);
        }
    }
    mum.anomalies = anomalies;
    Ok(mum)
}

#[cfg(test)]
mod tests {
    use super::{branch_of, normalise_kb};

    #[test]
    fn branch_suffixes() {
        assert_eq!(branch_of("4489880-12_neutral_LDR").as_deref(), Some("LDR"));
        assert_eq!(
            branch_of("2999226-13_neutral_PACKAGE").as_deref(),
            Some("PACKAGE")
        );
        assert_eq!(branch_of("nounderscore"), None);
        assert_eq!(branch_of("trailing_"), None);
    }

    #[test]
    fn kb_numbers() {
        assert_eq!(normalise_kb("KB4489880").as_deref(), Some("KB4489880"));
        assert_eq!(normalise_kb("Kb2999226_BF").as_deref(), Some("KB2999226"));
        assert_eq!(normalise_kb("968211").as_deref(), Some("KB968211"));
        assert_eq!(normalise_kb("KB"), None);
        assert_eq!(normalise_kb("é"), None);
    }
}
