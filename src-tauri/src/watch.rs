//! Watches the folder of the dataset on screen and tells the UI how many files changed since its seal.
//!
//! File-system events only say "look again"; the count comes from comparing the folder with the
//! seal (`hallmark_core::dataset::changes`, stat only), after events settle for a moment.

use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use hallmark_core::dataset;
use hallmark_core::progress::CancelToken;
use notify::{RecursiveMode, Watcher};
use tauri::ipc::Channel;

use crate::dto::DatasetChanges;
use crate::error::IpcError;

/// How long events must pause before the folder is compared again.
const SETTLE: Duration = Duration::from_millis(300);

/// The one folder being watched (the one on screen); replacing it stops the old watch.
#[derive(Default)]
pub struct FolderWatch(Mutex<Option<notify::RecommendedWatcher>>);

impl std::fmt::Debug for FolderWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FolderWatch")
    }
}

impl FolderWatch {
    /// Starts watching the source of the dataset sealed in `out`; sends the changes now and after
    /// every burst of file-system events, until another watch replaces this one.
    pub fn start(&self, out: &Path, channel: Channel<DatasetChanges>) -> Result<(), IpcError> {
        let state = dataset::load_state(out)?;
        let (events, received) = mpsc::channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok() {
                    let _ = events.send(());
                }
            })
            .map_err(|e| {
                IpcError::internal(format!("cannot watch {}: {e}", state.source.display()))
            })?;
        watcher
            .watch(&state.source, RecursiveMode::Recursive)
            .map_err(|e| {
                IpcError::internal(format!("cannot watch {}: {e}", state.source.display()))
            })?;

        let out = out.to_path_buf();
        send_changes(&out, &channel);
        std::thread::spawn(move || follow(&out, &received, &channel));
        // Dropping the old watcher closes its event channel, which ends its thread.
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(watcher);
        Ok(())
    }

    /// Stops watching (a seal is about to rewrite the dataset on screen).
    pub fn stop(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Waits for events, lets them settle, and sends the changes; ends when the watcher is dropped.
fn follow(out: &Path, received: &mpsc::Receiver<()>, channel: &Channel<DatasetChanges>) {
    while received.recv().is_ok() {
        loop {
            match received.recv_timeout(SETTLE) {
                Ok(()) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        if !send_changes(out, channel) {
            return;
        }
    }
}

/// Compares the folder with its seal and sends the result; false once the UI is gone.
fn send_changes(out: &Path, channel: &Channel<DatasetChanges>) -> bool {
    match dataset::changes(out, &CancelToken::new()) {
        Ok(changes) => channel.send(DatasetChanges::from(&changes)).is_ok(),
        // The folder may be mid-rename or gone for a moment; the next event tries again.
        Err(_) => true,
    }
}
