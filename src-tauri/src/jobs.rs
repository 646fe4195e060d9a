//! Running jobs by id, so the UI can cancel one it started.

use std::collections::HashMap;
use std::sync::Mutex;

use hallmark_core::progress::CancelToken;

/// The cancel tokens of the jobs running now, keyed by the id the UI gave each job.
#[derive(Debug, Default)]
pub struct Jobs(Mutex<HashMap<String, CancelToken>>);

impl Jobs {
    /// Registers a job; the returned guard unregisters it when the job ends, however it ends.
    pub fn start(&self, job_id: &str) -> JobGuard<'_> {
        let token = CancelToken::new();
        self.lock().insert(job_id.to_owned(), token.clone());
        JobGuard {
            jobs: self,
            job_id: job_id.to_owned(),
            token,
        }
    }

    /// Asks the job to stop; false when no such job is running (it may have just finished).
    pub fn cancel(&self, job_id: &str) -> bool {
        match self.lock().get(job_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancelToken>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running job's registration.
#[derive(Debug)]
pub struct JobGuard<'a> {
    jobs: &'a Jobs,
    job_id: String,
    pub token: CancelToken,
}

impl Drop for JobGuard<'_> {
    fn drop(&mut self) {
        self.jobs.lock().remove(&self.job_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reaches_a_running_job_and_ended_jobs_are_forgotten() {
        let jobs = Jobs::default();
        let guard = jobs.start("j1");
        assert!(jobs.cancel("j1"));
        assert!(guard.token.is_cancelled());
        drop(guard);
        assert!(!jobs.cancel("j1"));
    }
}
