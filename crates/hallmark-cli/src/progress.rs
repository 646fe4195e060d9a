//! Progress bars for the terminal: the core's `Progress` trait drawn with indicatif.

use hallmark_core::progress::{Progress, ProgressEvent};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// A spinner (or a bar once totals are known) on standard error; hidden when quiet or not a terminal.
#[derive(Debug)]
pub struct Bar(ProgressBar);

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
        Self(bar)
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn report(&self, event: &ProgressEvent) {
        self.0.set_message(format!(
            "{} files, {}",
            event.items_done,
            HumanBytes(event.bytes_done)
        ));
        self.0.tick();
    }
}

/// Bytes for people, in the same binary units as the progress bar.
pub fn human_bytes(bytes: u64) -> String {
    HumanBytes(bytes).to_string()
}
