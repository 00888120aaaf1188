//! The progress bar: the only place kbscan draws on the terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Progress {
    bar: Option<ProgressBar>,
    done: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress {
            bar: enabled.then(|| {
                let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            }),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl kbscan_scan::Observer for Progress {
    fn begin(&self, inputs: u64, bytes: u64) {
        self.total.store(inputs, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_length(bytes);
            b.set_message(format!("0/{inputs} inputs"));
        }
    }
    fn input_done(&self, _path: &str, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(b) = &self.bar {
            b.inc(bytes);
            b.set_message(format!(
                "{done}/{} inputs",
                self.total.load(Ordering::Relaxed)
            ));
        }
    }
}
