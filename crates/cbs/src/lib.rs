//! Parsers for the Component-Based Servicing (CBS) files inside Windows update packages:
//! `update.mum` / `Package_*.mum`, component `*.manifest`, the IPD container index
//! `_manifest_.cix.xml`, and the MSU's unattend `.xml` and `*-pkgProperties.txt`.
//!
//! Input is untrusted bytes from a package someone else made. Every parser therefore:
//! - never panics and never allocates beyond a small multiple of the input, whose size is
//!   checked first against [`limits`];
//! - rejects documents that are not well-formed XML (mismatched or missing end tags,
//!   truncation, content after the root, DOCTYPE, undefined entities) with
//!   [`CbsError::NotWellFormed`], carrying the byte position and line;
//! - matches elements by namespace URI and local name, never by prefix;
//! - keeps values that do not parse (as `version_raw` or an [`Anomaly`]) instead of
//!   failing the whole document.
//!
//! It must never do I/O, never decode cabinets or deltas (that is `kbscan-archive`), and
//! never guess a package's identity from a file name.

mod cix;
mod dom;
mod error;
mod hex;
mod identity;
mod key;
pub mod limits;
mod manifest;
mod mum;
pub mod ns;
mod props;
mod text;
mod unattend;

pub use cix::{parse_container_index, CixDelta, CixFile, CixSource, ContainerIndex, SourceType};
pub use error::CbsError;
pub use identity::{Anomaly, AssemblyIdentity};
pub use kbscan_version::Version;
pub use key::{parse_component_key, ComponentKey};
pub use manifest::{parse_component_manifest, ComponentManifest, DigestAlg, ManifestFile};
pub use mum::{parse_package_mum, PackageMum, UpdateEntry};
pub use props::{parse_pkg_properties, PkgProperties};
pub use text::{sniff_manifest, ManifestEncoding};
pub use unattend::{parse_unattend, Unattend, UnattendPackage};
