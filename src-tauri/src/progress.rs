//! Forwards the core's progress events to the UI over a per-job Tauri channel, at most ~20 a second.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hallmark_core::progress::{Phase, Progress, ProgressEvent};
use tauri::ipc::Channel;

use crate::dto::JobProgress;

/// The shortest gap between two forwarded events; the last event of a job is always sent.
const MIN_GAP: Duration = Duration::from_millis(50);

/// A [`Progress`] sink that sends [`JobProgress`] messages on a channel.
pub struct ChannelProgress {
    job_id: String,
    channel: Channel<JobProgress>,
    last_sent: Mutex<Option<Instant>>,
}

impl ChannelProgress {
    pub fn new(job_id: &str, channel: Channel<JobProgress>) -> Self {
        Self {
            job_id: job_id.to_owned(),
            channel,
            last_sent: Mutex::new(None),
        }
    }
}

impl Progress for ChannelProgress {
    fn report(&self, event: &ProgressEvent) {
        let now = Instant::now();
        {
            let mut last = self
                .last_sent
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let due = last.is_none_or(|at| now.duration_since(at) >= MIN_GAP);
            if !due && event.phase != Phase::Done {
                return;
            }
            *last = Some(now);
        }
        // A closed window makes sending fail; the job goes on and its result is simply not shown.
        let _ = self.channel.send(JobProgress::new(&self.job_id, event));
    }
}
