//! Progress bars for the terminal: the core's `Progress` trait drawn with indicatif.

use hallmark_core::progress::{Progress, ProgressEvent};
use indicatif::{DecimalBytes, ProgressBar, ProgressStyle};

/// A spinner while totals are unknown (the walk), then a bar of bytes with totals, rate and ETA;
/// on standard error, hidden when quiet or not a terminal.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    /// Whether the bar style (with totals) is in use yet.
    measured: std::sync::atomic::AtomicBool,
}

impl Bar {
    pub fn new(hidden: bool, label: &'static str) -> Self {
        let bar = if hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_prefix(label);
        Self {
            bar,
            measured: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn report(&self, event: &ProgressEvent) {
        match (event.items_total, event.bytes_total) {
            (Some(files), Some(bytes)) => {
                if !self
                    .measured
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    let template = "{prefix} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {msg} {decimal_bytes_per_sec}, {eta} left";
                    if let Ok(style) = ProgressStyle::with_template(template) {
                        self.bar.set_style(style.progress_chars("=> "));
                    }
                    self.bar.reset_eta();
                }
                self.bar.set_length(bytes);
                self.bar.set_position(event.bytes_done);
                self.bar
                    .set_message(format!("({} of {files} files)", event.items_done));
            }
            _ => {
                self.bar.set_message(format!(
                    "{} files, {}",
                    event.items_done,
                    DecimalBytes(event.bytes_done)
                ));
                self.bar.tick();
            }
        }
    }
}

/// Bytes for people, in the same binary units as the progress bar.
pub fn human_bytes(bytes: u64) -> String {
    DecimalBytes(bytes).to_string()
}
