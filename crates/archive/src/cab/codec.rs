//! A CAB folder's codec: stored, MSZIP (one raw deflate stream per block, with the folder's
//! last 32 KiB as its dictionary, through `flate2`) or LZX (`kbscan-lzx`, one decoder kept per
//! thread). Quantum and unknown methods are reported, not decoded.

use std::panic::{catch_unwind, AssertUnwindSafe};

use flate2::{Decompress, FlushDecompress, Status};

use super::{CabError, Compression};
use crate::limits;

pub(super) enum Codec {
    Stored,
    MsZip(Box<MsZip>),
    Lzx(Lzx),
}

thread_local! {
    /// One LZX decoder per thread, kept between folders so the 2 MiB window and the tables
    /// are allocated once per thread, not once per folder (payload CABs nest small cabinets).
    static LZX_SPARE: std::cell::RefCell<Option<Box<kbscan_lzx::Decoder>>> =
        const { std::cell::RefCell::new(None) };
}

/// A folder's LZX decoder, returned to the thread's spare slot when the folder is done.
pub(super) struct Lzx(Option<Box<kbscan_lzx::Decoder>>);

impl Lzx {
    fn new(window_bits: u8) -> Result<Self, kbscan_lzx::Error> {
        let spare = LZX_SPARE.with(|s| s.borrow_mut().take());
        let decoder = match spare {
            Some(mut d) => {
                d.reset(window_bits)?;
                d
            }
            None => Box::new(kbscan_lzx::Decoder::new(window_bits)?),
        };
        Ok(Lzx(Some(decoder)))
    }
}

impl Drop for Lzx {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            // A decoder that panicked is not worth keeping (its state is unknown); `reset`
            // re-initialises everything anyway, so keeping it would also be sound.
            if !std::thread::panicking() {
                LZX_SPARE.with(|s| *s.borrow_mut() = Some(d));
            }
        }
    }
}

impl Codec {
    /// Err carries the method name for `UnsupportedCompression`.
    pub(super) fn new(c: Compression) -> Result<Self, String> {
        match c {
            Compression::Stored => Ok(Codec::Stored),
            Compression::MsZip => Ok(Codec::MsZip(Box::new(MsZip::new()))),
            Compression::Lzx { window_bits } => {
                Lzx::new(window_bits).map(Codec::Lzx).map_err(|_| {
                    format!(
                        "LZX:{window_bits} (window bits must be {}..={})",
                        limits::LZX_MIN_WINDOW_BITS,
                        limits::LZX_MAX_WINDOW_BITS
                    )
                })
            }
            // Quantum is legal MS-CAB but absent from Windows update payloads; no maintained
            // crate decodes it, and a hand-written decoder is not worth its attack surface.
            Compression::Quantum { .. } => Err("Quantum".into()),
            Compression::Unknown(raw) => Err(format!("unknown method 0x{raw:04x}")),
        }
    }

    pub(super) fn decode<'s>(
        &'s mut self,
        data: &'s [u8],
        out_len: usize,
        folder: u16,
        block: u16,
    ) -> Result<&'s [u8], CabError> {
        match self {
            Codec::Stored => {
                if data.len() != out_len {
                    return Err(CabError::Decode {
                        folder,
                        block,
                        method: "None",
                        reason: format!(
                            "stored block has cbData {} but cbUncomp {out_len}",
                            data.len()
                        ),
                    });
                }
                Ok(data)
            }
            Codec::MsZip(z) => z.block(data, out_len).map_err(|reason| CabError::Decode {
                folder,
                block,
                method: "MSZIP",
                reason,
            }),
            Codec::Lzx(Lzx(Some(lzx))) => {
                // kbscan-lzx is written not to panic; the guard stays as defence in depth
                // (it costs nothing on the normal path) and the frame is still borrowed
                // straight from the decoder's window.
                let lzx: &'s mut kbscan_lzx::Decoder = lzx;
                match catch_unwind(AssertUnwindSafe(move || {
                    // Moving the reference in makes the closure FnOnce, so the frame may
                    // borrow from it.
                    let lzx = lzx;
                    lzx.decode_frame(data, out_len)
                })) {
                    Ok(Ok(frame)) => Ok(frame),
                    Ok(Err(e)) => Err(CabError::Decode {
                        folder,
                        block,
                        method: "LZX",
                        reason: e.to_string(),
                    }),
                    // The decoder state is now unusable; the caller stops this folder.
                    Err(_) => Err(CabError::DecoderPanic { folder, block }),
                }
            }
            Codec::Lzx(Lzx(None)) => Err(CabError::DecoderPanic { folder, block }),
        }
    }
}

/// MSZIP: every block is `CK` + a complete raw deflate stream whose preset dictionary is the
/// last 32 KiB of the folder output so far.
pub(super) struct MsZip {
    inflate: Decompress,
    history: Vec<u8>,
    out: Vec<u8>,
}

impl MsZip {
    fn new() -> Self {
        MsZip {
            inflate: Decompress::new(false),
            history: Vec::with_capacity(limits::MSZIP_HISTORY),
            out: Vec::with_capacity(limits::CAB_MAX_BLOCK_UNCOMPRESSED as usize + 1),
        }
    }

    fn block(&mut self, data: &[u8], out_len: usize) -> Result<&[u8], String> {
        let body = match data {
            [b'C', b'K', rest @ ..] => rest,
            _ => return Err("block does not start with the MSZIP signature \"CK\"".into()),
        };
        self.inflate.reset(false);
        if !self.history.is_empty() {
            self.inflate
                .set_dictionary(&self.history)
                .map_err(|e| format!("cannot set deflate dictionary: {e}"))?;
        }
        // One spare byte detects a block that inflates to more than cbUncomp.
        self.out.clear();
        self.out.resize(out_len + 1, 0);
        let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
        let (mut consumed, mut produced) = (0usize, 0usize);
        loop {
            let input = body.get(consumed..).unwrap_or(&[]);
            let output = self.out.get_mut(produced..).unwrap_or(&mut []);
            let status = self
                .inflate
                .decompress(input, output, FlushDecompress::Finish)
                .map_err(|e| format!("deflate: {e}"))?;
            let (c, p) = (
                (self.inflate.total_in() - in0) as usize,
                (self.inflate.total_out() - out0) as usize,
            );
            let progressed = c != consumed || p != produced;
            (consumed, produced) = (c, p);
            if produced > out_len {
                return Err(format!("block inflates to more than cbUncomp {out_len}"));
            }
            if status == Status::StreamEnd {
                break;
            }
            // Each call either consumes input or produces output; if neither happens the
            // stream is stuck (CVE-2010-2800 was an endless loop right here in libmspack).
            if !progressed {
                if produced == out_len && consumed == body.len() {
                    // Tolerated: a writer that omitted the final-block bit.
                    break;
                }
                return Err(format!(
                    "deflate stream stalled after {consumed} of {} input bytes, {produced} of {out_len} output bytes",
                    body.len()
                ));
            }
        }
        if produced != out_len {
            return Err(format!(
                "block inflated to {produced} bytes but cbUncomp is {out_len}"
            ));
        }
        let out = self.out.get(..produced).unwrap_or(&[]);
        if out.len() >= limits::MSZIP_HISTORY {
            self.history.clear();
            self.history
                .extend_from_slice(out.get(out.len() - limits::MSZIP_HISTORY..).unwrap_or(&[]));
        } else {
            self.history.extend_from_slice(out);
            let excess = self.history.len().saturating_sub(limits::MSZIP_HISTORY);
            self.history.drain(..excess);
        }
        Ok(out)
    }
}
