//! Progress reporting and cancellation for long jobs, as a trait the shells implement.
//!
//! The core reports [`ProgressEvent`]s through a [`Progress`] sink and polls a [`CancelToken`];
//! the CLI draws them with indicatif, the app forwards them over a Tauri channel, tests record them.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a job is doing right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// Walking a folder to find the files.
    Scanning,
    /// Reading and hashing files (and the shards they make).
    Hashing,
    /// Writing shard files.
    Exporting,
    /// Sending shards to a marketplace or a bucket.
    Uploading,
    /// Reading files for a review (metadata, personal data, broken files, duplicates).
    Reviewing,
    /// The job finished; the last event of every successful job.
    Done,
}

/// One progress report. Totals are `None` while unknown (a folder walk does not know its size).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgressEvent {
    pub phase: Phase,
    pub items_done: u64,
    pub items_total: Option<u64>,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    /// A short human note, such as the folder being walked.
    pub message: Option<String>,
}

/// A sink for progress events. Implementations must be cheap: the core calls it often.
pub trait Progress: Send + Sync {
    /// Receives one event.
    fn report(&self, event: &ProgressEvent);
}

/// Discards every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _event: &ProgressEvent) {}
}

/// Keeps every event, for tests and for shells that replay a job.
#[derive(Debug, Default)]
pub struct ProgressRecorder {
    events: Mutex<Vec<ProgressEvent>>,
}

impl ProgressRecorder {
    /// A copy of the events received so far.
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Progress for ProgressRecorder {
    fn report(&self, event: &ProgressEvent) {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event.clone());
    }
}

/// A shared flag a shell sets to ask a running job to stop at its next check.
#[derive(Debug, Default, Clone)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once a stop was asked for, so jobs can write `cancel.check()?`.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            Err(crate::Error::Cancelled)
        } else {
            Ok(())
        }
    }
}
