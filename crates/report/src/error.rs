//! [`RenderError`]: what can go wrong while rendering, for every renderer in the crate.
//!
//! Rendering itself cannot fail on any report; what fails is the writer (a closed pipe, a
//! full disk) or one of the libraries a renderer writes through.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("write failed: {0}")]
    Io(#[from] io::Error),
    #[error("JSON encoding failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("CSV encoding failed: {0}")]
    Csv(#[from] csv::Error),
    #[error("chart drawing failed: {0}")]
    Chart(String),
    #[error("HTML template failed: {0:#}")]
    Template(#[from] minijinja::Error),
}

impl RenderError {
    /// The reader of a pipe went away (`kbscan scan | head`): the caller's choice.
    pub fn is_broken_pipe(&self) -> bool {
        let kind = match self {
            RenderError::Io(e) => Some(e.kind()),
            RenderError::Json(e) => e.io_error_kind(),
            RenderError::Csv(e) => match e.kind() {
                csv::ErrorKind::Io(e) => Some(e.kind()),
                _ => None,
            },
            RenderError::Chart(_) | RenderError::Template(_) => None,
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    }
}
