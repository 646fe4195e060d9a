//! Summarising a creator's folder: how many files and bytes it holds, and what was passed over and why.
//!
//! It uses the same walk and rules as sealing ([`crate::scan`]), so the summary shows what a seal takes.

use std::path::{Path, PathBuf};

use crate::Result;
use crate::progress::{CancelToken, Phase, Progress, ProgressEvent};
use crate::scan::{Found, ScanRules};
pub use crate::scan::{SkipReason, SkippedEntry, resolve_folder};

/// How many files pass between two progress reports.
const REPORT_EVERY: u64 = 256;
/// How many skipped entries are kept by path; the rest are only counted, so memory stays bounded.
pub const SKIPPED_KEPT: usize = 200;

/// What a folder holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FolderSummary {
    /// The folder, as an absolute path with links resolved.
    pub root: PathBuf,
    /// Regular files that belong to the work (links, special files and junk are not counted).
    pub files: u64,
    /// Total size of those files in bytes.
    pub bytes: u64,
    /// Sub-folders walked.
    pub folders: u64,
    /// Entries passed over, at most [`SKIPPED_KEPT`] of them by path.
    pub skipped: Vec<SkippedEntry>,
    /// How many entries were passed over in all.
    pub skipped_total: u64,
}

/// Walks `root` under `rules` and counts its files and their bytes.
///
/// Reports progress every few hundred files and once at the end with [`Phase::Done`];
/// returns [`crate::Error::Cancelled`] soon after `cancel` is set.
pub fn summarize(
    root: &Path,
    rules: &ScanRules,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<FolderSummary> {
    let root = resolve_folder(root)?;
    let mut summary = FolderSummary {
        root: root.clone(),
        files: 0,
        bytes: 0,
        folders: 0,
        skipped: Vec::new(),
        skipped_total: 0,
    };
    let report = |summary: &FolderSummary, phase: Phase| {
        progress.report(&ProgressEvent {
            phase,
            items_done: summary.files,
            items_total: (phase == Phase::Done).then_some(summary.files),
            bytes_done: summary.bytes,
            bytes_total: (phase == Phase::Done).then_some(summary.bytes),
            message: None,
        })
    };
    report(&summary, Phase::Scanning);
    crate::scan::walk(&root, rules, cancel, |found| match found {
        Found::File(file) => {
            summary.files += 1;
            summary.bytes += file.size;
            if summary.files.is_multiple_of(REPORT_EVERY) {
                report(&summary, Phase::Scanning);
            }
        }
        Found::Folder => summary.folders += 1,
        Found::Skipped(entry) => {
            summary.skipped_total += 1;
            if summary.skipped.len() < SKIPPED_KEPT {
                summary.skipped.push(entry);
            }
        }
    })?;
    report(&summary, Phase::Done);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::progress::{NoProgress, ProgressRecorder};
    use crate::scan::ScanRules;
    use std::fs;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("photos/2024")).unwrap();
        fs::write(root.join("photos/2024/0001.jpg"), vec![7u8; 1000]).unwrap();
        fs::write(root.join("photos/2024/0001.json"), b"{}").unwrap();
        fs::write(root.join("README.txt"), b"hello").unwrap();
        fs::write(root.join(".hidden"), b"x").unwrap();
        fs::write(root.join("empty"), b"").unwrap();
        dir
    }

    #[test]
    fn counts_every_regular_file_and_byte_including_hidden_and_empty_ones() {
        let dir = tree();
        let s = summarize(
            dir.path(),
            &ScanRules::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(s.files, 5);
        assert_eq!(s.bytes, 1000 + 2 + 5 + 1);
        assert_eq!(s.folders, 2);
        assert_eq!(s.skipped_total, 0);
        assert_eq!(s.root, dir.path().canonicalize().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn never_follows_links_and_reports_them_and_special_files() {
        let dir = tree();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("big"), vec![0u8; 4096]).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("photos/loop")).unwrap();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());

        let s = summarize(
            dir.path(),
            &ScanRules::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(
            (s.files, s.bytes),
            (5, 1008),
            "links must not add the outside file"
        );
        assert_eq!(s.skipped_total, 3);
        let reasons: Vec<_> = s.skipped.iter().map(|e| e.reason.to_string()).collect();
        assert_eq!(
            reasons
                .iter()
                .filter(|r| r.starts_with("symbolic link"))
                .count(),
            2
        );
        assert!(reasons.iter().any(|r| r.starts_with("not a regular file")));
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_subfolder_is_reported_by_path_and_the_rest_is_counted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tree();
        let locked = dir.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::write(locked.join("secret"), b"abc").unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        // Root can read anything; the check only means something for other users.
        let can_read = fs::read_dir(&locked).is_ok();
        let s = summarize(
            dir.path(),
            &ScanRules::default(),
            &NoProgress,
            &CancelToken::new(),
        );
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        let s = s.unwrap();
        if can_read {
            assert_eq!(s.files, 6);
        } else {
            assert_eq!(s.files, 5);
            assert_eq!(s.skipped_total, 1);
            assert_eq!(s.skipped[0].path, locked.canonicalize().unwrap());
            assert_eq!(
                s.skipped[0].reason,
                SkipReason::Unreadable("permission denied".into())
            );
        }
    }

    #[test]
    fn bad_roots_get_errors_that_name_the_path() {
        let dir = tree();
        let missing = dir.path().join("nope");
        let err = summarize(
            &missing,
            &ScanRules::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains(&*missing.to_string_lossy()));

        let file = dir.path().join("README.txt");
        let err = summarize(
            &file,
            &ScanRules::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().starts_with("not a folder: "));

        let err = summarize(
            Path::new(""),
            &ScanRules::default(),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn reports_progress_in_batches_and_finishes_with_done_totals() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..600 {
            fs::write(dir.path().join(format!("{i:04}.txt")), b"ab").unwrap();
        }
        let rec = ProgressRecorder::default();
        summarize(dir.path(), &ScanRules::default(), &rec, &CancelToken::new()).unwrap();
        let events = rec.events();
        let done: Vec<u64> = events.iter().map(|e| e.items_done).collect();
        assert_eq!(done, vec![0, 256, 512, 600]);
        let last = events.last().unwrap();
        assert_eq!(last.phase, Phase::Done);
        assert_eq!(
            (last.items_total, last.bytes_total),
            (Some(600), Some(1200))
        );
    }

    #[test]
    fn a_cancelled_walk_stops_with_cancelled() {
        let dir = tree();
        let cancel = CancelToken::new();
        cancel.cancel();
        let err = summarize(dir.path(), &ScanRules::default(), &NoProgress, &cancel).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
    }
}
