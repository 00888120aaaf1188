//! Applying a PA30 delta: decode the patch buffer, undo the output transforms, verify
//! the target hash. Bytes leave this module only when their hash matched.

use crate::body::BodyError;
use crate::lzx;
use crate::rift::RiftEntry;
use crate::{limits, names, parse_framing, DeltaError, Pa30Header, CALG_MD5};
use md5::{Digest, Md5};

/// `DELTA_FILE_TYPE_RAW`.
pub const FILE_TYPE_RAW: u64 = 0x01;
/// `DELTA_FLAG_E8`: the x86 `CALL` (E8) translation of classic LZX over the target.
pub const FLAG_E8: u64 = 0x01;
/// Flags that say nothing about the body's coding (`IGNORE_FILE_SIZE_LIMIT`,
/// `IGNORE_OPTIONS_SIZE_LIMIT`).
pub const FLAGS_NO_EFFECT: u64 = 0x0002_0000 | 0x0004_0000;

/// A target that decoded and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub header: Pa30Header,
    pub data: Vec<u8>,
    /// True when the header carried a `CALG_MD5` hash and the output matched it.
    /// False only for deltas whose header carries no hash (`ALG_ID` 0): the caller
    /// must then verify the bytes some other way before trusting them.
    pub md5_verified: bool,
    /// Number of E8 call sites translated back (0 when the flag is clear).
    pub e8_sites: u32,
}

/// Why a delta was not applied. Every variant that is reached after the header parsed
/// keeps the header, so a caller can still report what the delta says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Header(#[from] DeltaError),
    #[error("target of {size} bytes exceeds MAX_TARGET_SIZE ({max} bytes)")]
    TargetTooLarge {
        header: Box<Pa30Header>,
        size: u64,
        max: u64,
    },
    #[error("basis of {size} bytes exceeds MAX_TARGET_SIZE ({max} bytes)")]
    BasisTooLarge {
        header: Box<Pa30Header>,
        size: u64,
        max: u64,
    },
    #[error("not implemented: {what}")]
    Unsupported {
        header: Box<Pa30Header>,
        /// What exactly: a flag, a transform, a block type.
        what: String,
    },
    #[error("patch buffer: {error}")]
    Body {
        header: Box<Pa30Header>,
        error: BodyError,
    },
    #[error("decoded target MD5 {got} does not match the header's {expected}")]
    HashMismatch {
        header: Box<Pa30Header>,
        expected: String,
        got: String,
    },
    #[error("target hash algorithm {alg} is not supported for verification")]
    UnsupportedHash {
        header: Box<Pa30Header>,
        alg: String,
    },
}

impl DecodeError {
    /// Stable snake_case name of the error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Header(e) => e.kind(),
            DecodeError::TargetTooLarge { .. } => "msdelta_target_too_large",
            DecodeError::BasisTooLarge { .. } => "msdelta_basis_too_large",
            DecodeError::Unsupported { .. } => "msdelta_unsupported",
            DecodeError::Body { .. } => "msdelta_body",
            DecodeError::HashMismatch { .. } => "msdelta_hash_mismatch",
            DecodeError::UnsupportedHash { .. } => "msdelta_unsupported_hash",
        }
    }

    /// The header, when it parsed.
    pub fn header(&self) -> Option<&Pa30Header> {
        match self {
            DecodeError::Header(_) => None,
            DecodeError::TargetTooLarge { header, .. }
            | DecodeError::BasisTooLarge { header, .. }
            | DecodeError::Unsupported { header, .. }
            | DecodeError::Body { header, .. }
            | DecodeError::HashMismatch { header, .. }
            | DecodeError::UnsupportedHash { header, .. } => Some(header),
        }
    }
}

/// Applies `delta` to `basis` (`None` or empty for a delta against nothing) and returns
/// the target only if it verified against the header's hash.
pub fn apply(delta: &[u8], basis: Option<&[u8]>) -> Result<Decoded, DecodeError> {
    let framing = parse_framing(delta)?;
    let h = framing.header;
    let boxed = |h: &Pa30Header| Box::new(h.clone());
    if h.target_size > limits::MAX_TARGET_SIZE {
        return Err(DecodeError::TargetTooLarge {
            header: boxed(&h),
            size: h.target_size,
            max: limits::MAX_TARGET_SIZE,
        });
    }
    let basis = basis.unwrap_or(&[]);
    if basis.len() as u64 > limits::MAX_TARGET_SIZE {
        return Err(DecodeError::BasisTooLarge {
            header: boxed(&h),
            size: basis.len() as u64,
            max: limits::MAX_TARGET_SIZE,
        });
    }
    let unsupported = |what: String| DecodeError::Unsupported {
        header: boxed(&h),
        what,
    };
    if h.hash_alg != CALG_MD5 && !(h.hash_alg == 0 && h.hash.is_empty()) {
        return Err(DecodeError::UnsupportedHash {
            header: boxed(&h),
            alg: names::hash_alg_name(h.hash_alg)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{:#06x}", h.hash_alg)),
        });
    }
    let ft_name = names::file_type_name(h.file_type)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:#x}", h.file_type));
    let pe_transforms = h.file_type != FILE_TYPE_RAW;
    if pe_transforms && basis.is_empty() {
        return Err(unsupported(format!("file type {ft_name} without a basis")));
    }
    let known = if pe_transforms {
        !0
    } else {
        FLAG_E8 | FLAGS_NO_EFFECT
    };
    let unknown = h.flags & !known;
    if unknown != 0 {
        return Err(unsupported(format!(
            "flags {} on a raw target",
            names::flag_names(unknown).join("|")
        )));
    }
    if !pe_transforms && !framing.preprocess.is_empty() {
        return Err(unsupported(format!(
            "pre-processing buffer of {} bytes on a raw target",
            framing.preprocess.len()
        )));
    }
    let target_size = h.target_size as usize;
    if framing.patch.is_empty() && target_size != 0 {
        return Err(DecodeError::Body {
            header: boxed(&h),
            error: BodyError::Truncated {
                what: "empty patch buffer",
                pos: 0,
            },
        });
    }
    let patch = &delta[framing.patch.clone()];
    // One decode: the body against `source` through `copy_rift`, the E8 output
    // transform, the hash. `Ok(Err(md5))`: decoded, but to this other MD5.
    let attempt =
        |source: &[u8], copy_rift: &[RiftEntry]| -> Result<Result<Decoded, [u8; 16]>, BodyError> {
            let mut data = if patch.is_empty() {
                Vec::new()
            } else {
                lzx::decode(patch, source, target_size, copy_rift)?
            };
            let e8_sites = if h.flags & FLAG_E8 != 0 {
                crate::transform::undo_e8(&mut data)
            } else {
                0
            };
            let md5_verified = h.hash_alg == CALG_MD5;
            if md5_verified {
                let got: [u8; 16] = Md5::digest(&data).into();
                if got[..] != h.hash[..] {
                    return Ok(Err(got));
                }
            }
            Ok(Ok(Decoded {
                header: h.clone(),
                data,
                md5_verified,
                e8_sites,
            }))
        };
    if !pe_transforms {
        return match attempt(basis, &[]) {
            Ok(Ok(d)) => Ok(d),
            Ok(Err(got)) => Err(DecodeError::HashMismatch {
                expected: h.hash_hex(),
                got: hex::encode(got),
                header: boxed(&h),
            }),
            Err(error) => Err(DecodeError::Body {
                header: boxed(&h),
                error,
            }),
        };
    }
    // PE targets: the source goes through the transforms the flags name, driven by
    // the pre-processing buffer. Without a hash nothing would prove the result.
    let flag_list = names::flag_names(h.flags & !FLAGS_NO_EFFECT).join("|");
    if h.hash_alg != CALG_MD5 {
        return Err(unsupported(format!(
            "delta against a basis with {ft_name} source transforms and no target hash (flags {flag_list})"
        )));
    }
    let what = format!("delta against a basis with {ft_name} source transforms");
    let prepared = crate::rift::parse_pe_preprocess(&delta[framing.preprocess.clone()])
        .map_err(|e| {
            format!("{what} whose pre-processing buffer does not parse ({e}; flags {flag_list})")
        })
        .and_then(|pre| {
            crate::source::prepare(basis, &pre, h.flags)
                .map_err(|need| format!("{what} needing {need} (flags {flag_list})"))
        });
    let mut body_error = None;
    if let Ok(p) = &prepared {
        match attempt(&p.source, &p.copy_rift) {
            Ok(Ok(d)) => return Ok(d),
            Ok(Err(_)) => {}
            Err(e) => body_error = Some(e),
        }
    }
    Err(unsupported(match (prepared, body_error) {
        (Err(message), _) => message,
        (Ok(p), _) if !p.missing.is_empty() => format!(
            "{what} needing {} (flags {flag_list})",
            p.missing.join(", ")
        ),
        (Ok(_), Some(e)) => format!(
            "{what} whose body does not decode against the transformed basis ({}: {e}; flags {flag_list})",
            e.kind()
        ),
        (Ok(_), None) => format!(
            "{what} that did not reproduce the target MD5 (flags {flag_list})"
        ),
    }))
}
