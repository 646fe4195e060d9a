//! Walking a creator's folder: which files belong to the work, and which entries are passed over and why.
//!
//! One walker serves the folder summary and sealing, so what the creator is shown is what gets sealed.
//! It never follows a symbolic link (a link could lead out of the folder or loop), honours
//! include/exclude patterns and a `.hallmarkignore` file (gitignore syntax), and skips system
//! junk such as `.DS_Store` and `Thumbs.db` unless asked not to.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::progress::CancelToken;
use crate::{Error, Result};

/// The name of the per-folder ignore file, in gitignore syntax.
pub const IGNORE_FILE: &str = ".hallmarkignore";

/// Files operating systems leave behind that are never part of anyone's work.
const JUNK_FILES: &[&str] = &[
    ".DS_Store",
    "Thumbs.db",
    "ehthumbs.db",
    "desktop.ini",
    ".directory",
];
/// Folders of the same kind; their contents are skipped whole.
const JUNK_DIRS: &[&str] = &[
    ".Spotlight-V100",
    ".Trashes",
    ".fseventsd",
    ".TemporaryItems",
    "$RECYCLE.BIN",
    "System Volume Information",
    "__MACOSX",
];

/// Which files of a folder belong to the work.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanRules {
    /// Gitignore-style globs a file must match to be included (all files when empty).
    pub include: Vec<String>,
    /// Gitignore-style globs that exclude files.
    pub exclude: Vec<String>,
    /// Skip `.DS_Store`, `Thumbs.db` and the like.
    pub skip_junk: bool,
}

impl Default for ScanRules {
    fn default() -> Self {
        Self {
            include: Vec::new(),
            exclude: Vec::new(),
            skip_junk: true,
        }
    }
}

/// A regular file found by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// The path relative to the folder.
    pub rel: PathBuf,
    pub size: u64,
    /// Modification time as (seconds, nanoseconds) since the Unix epoch.
    pub mtime: (i64, u32),
    /// The inode number (0 where the OS has none).
    pub inode: u64,
}

/// An entry the walk passed over.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedEntry {
    pub path: PathBuf,
    pub reason: SkipReason,
}

/// Why an entry was passed over.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A symbolic link: never followed, so the dataset holds only what is inside the folder.
    Symlink,
    /// A device, socket or pipe: not a file of work.
    Special,
    /// System junk such as `.DS_Store`.
    Junk,
    /// The OS refused to read it; the detail says why.
    Unreadable(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Symlink => f.write_str("symbolic link (not followed)"),
            SkipReason::Special => f.write_str("not a regular file (device, socket or pipe)"),
            SkipReason::Junk => f.write_str("system file, not part of your work"),
            SkipReason::Unreadable(detail) => write!(f, "unreadable: {detail}"),
        }
    }
}

/// What the walk reports, entry by entry.
#[derive(Debug)]
pub enum Found {
    File(FoundFile),
    Folder,
    Skipped(SkippedEntry),
}

/// Checks that `root` is an existing folder and returns it absolute, with links resolved.
pub fn resolve_folder(root: &Path) -> Result<PathBuf> {
    if root.as_os_str().is_empty() {
        return Err(Error::InvalidPath {
            path: String::new(),
            reason: "the path is empty; type or pick a folder",
        });
    }
    let meta = std::fs::metadata(root).map_err(|e| Error::from_io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::NotAFolder {
            path: root.to_path_buf(),
        });
    }
    root.canonicalize().map_err(|e| Error::from_io(root, e))
}

/// Walks `root` (already resolved) under `rules`, calling `visit` for every file, folder and skip.
pub fn walk(
    root: &Path,
    rules: &ScanRules,
    cancel: &CancelToken,
    mut visit: impl FnMut(Found),
) -> Result<()> {
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE);
    if !rules.include.is_empty() || !rules.exclude.is_empty() {
        builder.overrides(overrides(root, rules)?);
    }
    let junk_dirs = Arc::new(Mutex::new(Vec::new()));
    if rules.skip_junk {
        let seen = Arc::clone(&junk_dirs);
        builder.filter_entry(move |entry| {
            let junk = entry.file_type().is_some_and(|t| t.is_dir())
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| JUNK_DIRS.contains(&n));
            if junk {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(entry.path().to_path_buf());
            }
            !junk
        });
    }

    for entry in builder.build() {
        cancel.check()?;
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = error_path(&err).unwrap_or_else(|| root.to_path_buf());
                visit(skipped(path, SkipReason::Unreadable(io_detail(&err))));
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            visit(Found::Folder);
        } else if file_type.is_symlink() {
            visit(skipped(entry.into_path(), SkipReason::Symlink));
        } else if file_type.is_file() {
            let name = entry.file_name();
            if name == IGNORE_FILE || (rules.skip_junk && name.to_str().is_some_and(is_junk_file)) {
                if name != IGNORE_FILE {
                    visit(skipped(entry.into_path(), SkipReason::Junk));
                }
                continue;
            }
            match entry.metadata() {
                Ok(meta) => {
                    let rel = entry
                        .path()
                        .strip_prefix(root)
                        .unwrap_or(entry.path())
                        .to_path_buf();
                    visit(Found::File(FoundFile {
                        rel,
                        size: meta.len(),
                        mtime: mtime(&meta),
                        inode: inode(&meta),
                    }));
                }
                Err(err) => visit(skipped(
                    entry.into_path(),
                    SkipReason::Unreadable(io_detail(&err)),
                )),
            }
        } else {
            visit(skipped(entry.into_path(), SkipReason::Special));
        }
    }
    let junk_dirs = std::mem::take(&mut *junk_dirs.lock().unwrap_or_else(|p| p.into_inner()));
    for dir in junk_dirs {
        visit(skipped(dir, SkipReason::Junk));
    }
    Ok(())
}

fn skipped(path: PathBuf, reason: SkipReason) -> Found {
    Found::Skipped(SkippedEntry { path, reason })
}

fn is_junk_file(name: &str) -> bool {
    JUNK_FILES.contains(&name) || name.starts_with("._")
}

fn overrides(root: &Path, rules: &ScanRules) -> Result<ignore::overrides::Override> {
    let mut builder = ignore::overrides::OverrideBuilder::new(root);
    let patterns = rules
        .include
        .iter()
        .map(|g| (g.clone(), g.clone()))
        .chain(rules.exclude.iter().map(|g| (g.clone(), format!("!{g}"))));
    for (given, glob) in patterns {
        builder.add(&glob).map_err(|e| Error::InvalidPattern {
            pattern: given,
            detail: e.to_string(),
        })?;
    }
    builder.build().map_err(|e| Error::InvalidPattern {
        pattern: String::new(),
        detail: e.to_string(),
    })
}

#[cfg(unix)]
fn mtime(meta: &std::fs::Metadata) -> (i64, u32) {
    use std::os::unix::fs::MetadataExt;
    (meta.mtime(), u32::try_from(meta.mtime_nsec()).unwrap_or(0))
}

#[cfg(not(unix))]
fn mtime(meta: &std::fs::Metadata) -> (i64, u32) {
    match meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    {
        Some(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        None => (0, 0),
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// Size and modification time of an open or named file, to tell whether it changed.
pub fn stamp(meta: &std::fs::Metadata) -> (u64, (i64, u32)) {
    (meta.len(), mtime(meta))
}

/// The path an `ignore` error is about, if it names one.
fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

/// The OS's words for an error, without the path the caller already shows.
fn io_detail(err: &ignore::Error) -> String {
    match err.io_error() {
        Some(io) => match io.kind() {
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => io.to_string(),
        },
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn files(root: &Path, rules: &ScanRules) -> (Vec<String>, Vec<(String, String)>) {
        let root = resolve_folder(root).unwrap();
        let mut found = Vec::new();
        let mut skips = Vec::new();
        walk(&root, rules, &CancelToken::new(), |f| match f {
            Found::File(f) => found.push(f.rel.to_string_lossy().into_owned()),
            Found::Skipped(s) => skips.push((
                s.path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                s.reason.to_string(),
            )),
            Found::Folder => {}
        })
        .unwrap();
        found.sort();
        skips.sort();
        (found, skips)
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("a/__MACOSX")).unwrap();
        for f in [
            "a/1.jpg",
            "a/1.json",
            "a/2.jpg",
            "a/raw.cr2",
            "a/.DS_Store",
            "a/._1.jpg",
            "a/__MACOSX/x",
            "Thumbs.db",
            "notes.txt",
        ] {
            fs::write(r.join(f), f.as_bytes()).unwrap();
        }
        dir
    }

    #[test]
    fn junk_is_skipped_and_reported_by_default_and_kept_when_asked() {
        let dir = tree();
        let (found, skips) = files(dir.path(), &ScanRules::default());
        assert_eq!(
            found,
            ["a/1.jpg", "a/1.json", "a/2.jpg", "a/raw.cr2", "notes.txt"]
        );
        let skipped: Vec<_> = skips.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            skipped,
            ["Thumbs.db", "a/.DS_Store", "a/._1.jpg", "a/__MACOSX"]
        );
        assert!(
            skips
                .iter()
                .all(|(_, r)| r == "system file, not part of your work")
        );

        let keep = ScanRules {
            skip_junk: false,
            ..ScanRules::default()
        };
        assert_eq!(files(dir.path(), &keep).0.len(), 9);
    }

    #[test]
    fn include_exclude_and_hallmarkignore_select_files() {
        let dir = tree();
        let rules = ScanRules {
            include: vec!["*.jpg".into(), "*.json".into()],
            exclude: vec!["2.*".into()],
            ..ScanRules::default()
        };
        assert_eq!(files(dir.path(), &rules).0, ["a/1.jpg", "a/1.json"]);

        fs::write(dir.path().join(IGNORE_FILE), "*.cr2\nnotes.txt\n").unwrap();
        let (found, _) = files(dir.path(), &ScanRules::default());
        assert_eq!(
            found,
            ["a/1.jpg", "a/1.json", "a/2.jpg"],
            "the ignore file itself is not part of the work"
        );
    }

    #[test]
    fn a_bad_pattern_is_named_in_the_error() {
        let dir = tree();
        let rules = ScanRules {
            include: vec!["a/[".into()],
            ..ScanRules::default()
        };
        let root = resolve_folder(dir.path()).unwrap();
        let err = walk(&root, &rules, &CancelToken::new(), |_| {}).unwrap_err();
        assert!(err.to_string().contains("\"a/[\""), "{err}");
    }
}
