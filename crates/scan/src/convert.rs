//! Conversion to the model: how what the parsers return becomes report records (identities,
//! PE facts, unattend packages, PA30 header facts, error records).

use kbscan_archive::NestedPath;
use kbscan_cbs as cbs;
use kbscan_model::*;

pub(crate) fn err_rec(path: &NestedPath, kind: &str, message: String) -> ErrorRecord {
    ErrorRecord {
        path: path.to_string(),
        kind: kind.to_string(),
        message,
    }
}

pub(crate) fn identity(a: &cbs::AssemblyIdentity) -> Identity {
    Identity {
        name: a.name.clone(),
        version: a.version_raw.clone().or(a.version.map(|v| v.to_string())),
        processor_architecture: a.processor_architecture.clone(),
        language: a.language.clone(),
        public_key_token: a.public_key_token.clone(),
    }
}

pub(crate) fn unattend_info(u: &cbs::Unattend) -> UnattendInfo {
    UnattendInfo {
        packages: u
            .packages
            .iter()
            .map(|p| UnattendPackageInfo {
                action: p.action.clone(),
                identity: p.identity.as_ref().map(identity),
                source_location: p.source_location.clone(),
            })
            .collect(),
    }
}

/// Copies what a PA30 header says into the target's [`DeltaInfo`].
pub(crate) fn apply_pa30_header(info: &mut DeltaInfo, h: &kbscan_msdelta::Pa30Header) {
    use kbscan_msdelta as md;
    info.target_time = h.target_time_utc();
    info.target_filetime = Some(h.target_filetime);
    info.file_type_set = Some(
        md::file_type_set_name(h.file_type_set)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:#x}", h.file_type_set)),
    );
    info.file_type = Some(
        md::file_type_name(h.file_type)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{:#x}", h.file_type)),
    );
    info.flags = Some(format!("{:#x}", h.flags));
    info.flag_names = md::flag_names(h.flags);
    if !h.hash.is_empty() {
        info.target_hash_alg = Some(
            md::hash_alg_name(h.hash_alg)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{:#06x}", h.hash_alg)),
        );
        info.target_hash = Some(h.hash_hex());
    }
    info.note = Some(md::describe(h));
}

pub(crate) fn pe_facts(info: &kbscan_pe::PeInfo) -> PeFacts {
    let v = info.version.as_ref();
    PeFacts {
        machine: info.machine_name.clone(),
        image: format!("{:?}", info.kind).to_ascii_lowercase(),
        is_64: info.is_64,
        timestamp: info.timestamp,
        has_version_resource: v.is_some(),
        strings: v.map(|v| v.strings.clone()).unwrap_or_default(),
        file_version_string: v.and_then(|v| v.file_version_string.clone()),
        product_version_string: v.and_then(|v| v.product_version_string.clone()),
        original_filename: v.and_then(|v| v.original_filename.clone()),
        company_name: v.and_then(|v| v.company_name.clone()),
        branch_tag: v.and_then(|v| v.branch_tag.clone()),
        anomalies: info.anomalies.clone(),
    }
}
