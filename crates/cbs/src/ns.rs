//! Namespace URIs. Elements are matched by these, never by prefix.

/// CBS assemblies (`update.mum`, `Package_*.mum`, component `.manifest`).
pub const ASM_V3: &str = "urn:schemas-microsoft-com:asm.v3";
/// Older side-by-side assemblies; accepted as a root namespace as well.
pub const ASM_V1: &str = "urn:schemas-microsoft-com:asm.v1";
/// `asmv2:hash` inside a `<file>`.
pub const ASM_V2: &str = "urn:schemas-microsoft-com:asm.v2";
/// `dsig:DigestMethod` / `dsig:DigestValue`.
pub const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The MSU unattend file.
pub const UNATTEND: &str = "urn:schemas-microsoft-com:unattend";
/// `_manifest_.cix.xml` of an Intra-Package Delta container.
pub const CONTAINER_INDEX: &str = "urn:ContainerIndex";
