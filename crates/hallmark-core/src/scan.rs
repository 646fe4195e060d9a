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
    /// Status change time as (seconds, nanoseconds): moves on every write, and cannot be set back.
    pub ctime: (i64, u32),
    /// The device the file is on (0 where the OS has none).
    pub dev: u64,
    /// The inode number (0 where the OS has none).
    pub inode: u64,
}

impl FoundFile {
    /// The file at `rel` as its metadata (not following a link) describes it.
    pub fn new(rel: PathBuf, meta: &std::fs::Metadata) -> Self {
        let (dev, inode) = crate::untrusted::file_id(meta);
        Self {
            rel,
            size: meta.len(),
            mtime: mtime(meta),
            ctime: ctime(meta),
            dev,
            inode,
        }
    }

    /// Whether `meta` (of an open file) describes this file exactly as the walk saw it: same inode on
    /// the same device, same size and times. A link or another file swapped in fails this.
    pub fn is_as_seen(&self, meta: &std::fs::Metadata) -> bool {
        let (dev, inode) = crate::untrusted::file_id(meta);
        meta.is_file()
            && meta.len() == self.size
            && mtime(meta) == self.mtime
            && ctime(meta) == self.ctime
            && (dev, inode) == (self.dev, self.inode)
    }
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

/// The largest `.hallmarkignore` read; a bigger one is refused, not read.
pub const MAX_IGNORE_FILE_BYTES: u64 = 1 << 20;

/// The `.hallmarkignore` files of the folders walked so far, read by Hallmark itself: as regular
/// files only, never through a link, bounded in size (the `ignore` crate would follow a link).
#[derive(Debug, Default)]
struct IgnoreFiles {
    by_dir: std::collections::HashMap<PathBuf, Option<ignore::gitignore::Gitignore>>,
    /// The last parent folder asked about, and its folders (deepest first) that have an ignore
    /// file: the walk gives a folder's entries one after another, and most have none at all.
    last: Option<(PathBuf, Vec<PathBuf>)>,
    /// The first ignore file that could not be used: the walk fails with it.
    error: Option<Error>,
}

impl IgnoreFiles {
    /// The ignore file that could not be used, if any, taken out of the shared state.
    fn failure(shared: &Mutex<Self>) -> Option<Error> {
        shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .error
            .take()
    }

    fn load(&mut self, dir: &Path) {
        if self.by_dir.contains_key(dir) || self.error.is_some() {
            return;
        }
        let path = dir.join(IGNORE_FILE);
        let matcher = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
            Ok(_) => crate::untrusted::read_capped(&path, MAX_IGNORE_FILE_BYTES)
                .map_err(|e| match e {
                    Error::Damaged { detail, .. } => detail,
                    other => other.to_string(),
                })
                .and_then(|bytes| {
                    let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
                    for line in String::from_utf8_lossy(&bytes).lines() {
                        builder
                            .add_line(Some(path.clone()), line)
                            .map_err(|e| e.to_string())?;
                    }
                    builder.build().map(Some).map_err(|e| e.to_string())
                }),
        };
        match matcher {
            Ok(matcher) => {
                self.by_dir.insert(dir.to_path_buf(), matcher);
            }
            Err(detail) => self.error = Some(Error::IgnoreFile { path, detail }),
        }
    }

    /// Whether the ignore files of `path`'s folders (deepest first, as git does) leave it out.
    fn ignores(&mut self, root: &Path, path: &Path, is_dir: bool) -> bool {
        let Some(parent) = path.parent() else {
            return false;
        };
        if self.last.as_ref().is_none_or(|(last, _)| last != parent) {
            let dirs: Vec<&Path> = parent
                .ancestors()
                .take_while(|d| d.starts_with(root))
                .collect();
            for dir in dirs.iter().rev() {
                self.load(dir);
            }
            let with_rules = dirs
                .into_iter()
                .filter(|d| matches!(self.by_dir.get(*d), Some(Some(_))))
                .map(Path::to_path_buf)
                .collect();
            self.last = Some((parent.to_path_buf(), with_rules));
        }
        if self.error.is_some() {
            return true;
        }
        let Some((_, with_rules)) = &self.last else {
            return false;
        };
        for dir in with_rules {
            if let Some(Some(matcher)) = self.by_dir.get(dir) {
                match matcher.matched(path, is_dir) {
                    ignore::Match::Ignore(_) => return true,
                    ignore::Match::Whitelist(_) => return false,
                    ignore::Match::None => {}
                }
            }
        }
        false
    }
}

/// Walks `root` (already resolved) under `rules`, calling `visit` for every file, folder and skip.
pub fn walk(
    root: &Path,
    rules: &ScanRules,
    cancel: &CancelToken,
    mut visit: impl FnMut(Found),
) -> Result<()> {
    let mut builder = ignore::WalkBuilder::new(root);
    builder.standard_filters(false).follow_links(false);
    if !rules.include.is_empty() || !rules.exclude.is_empty() {
        builder.overrides(overrides(root, rules)?);
    }
    let junk_dirs = Arc::new(Mutex::new(Vec::new()));
    let ignore_files = Arc::new(Mutex::new(IgnoreFiles::default()));
    {
        let seen = Arc::clone(&junk_dirs);
        let ignore_files = Arc::clone(&ignore_files);
        let skip_junk = rules.skip_junk;
        let root = root.to_path_buf();
        builder.filter_entry(move |entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let junk = skip_junk
                && is_dir
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| JUNK_DIRS.contains(&n));
            if junk {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(entry.path().to_path_buf());
                return false;
            }
            entry.depth() == 0
                || !ignore_files
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .ignores(&root, entry.path(), is_dir)
        });
    }

    for entry in builder.build() {
        cancel.check()?;
        if let Some(e) = IgnoreFiles::failure(&ignore_files) {
            return Err(e);
        }
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
                    if let Err(detail) = readable(entry.path(), &meta) {
                        visit(skipped(entry.into_path(), SkipReason::Unreadable(detail)));
                        continue;
                    }
                    let rel = entry
                        .path()
                        .strip_prefix(root)
                        .unwrap_or(entry.path())
                        .to_path_buf();
                    visit(Found::File(FoundFile::new(rel, &meta)));
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
    if let Some(e) = IgnoreFiles::failure(&ignore_files) {
        return Err(e);
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

/// Checks that every include and exclude pattern is valid, before any file is read.
pub fn check_rules(root: &Path, rules: &ScanRules) -> Result<()> {
    if !rules.include.is_empty() || !rules.exclude.is_empty() {
        overrides(root, rules)?;
    }
    Ok(())
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
fn ctime(meta: &std::fs::Metadata) -> (i64, u32) {
    use std::os::unix::fs::MetadataExt;
    (meta.ctime(), u32::try_from(meta.ctime_nsec()).unwrap_or(0))
}

#[cfg(not(unix))]
fn ctime(_meta: &std::fs::Metadata) -> (i64, u32) {
    (0, 0)
}

/// Who this process is, for reading permission bits: effective user, group, and other groups.
#[cfg(unix)]
struct Reader {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

#[cfg(unix)]
fn reader() -> &'static Reader {
    static READER: std::sync::OnceLock<Reader> = std::sync::OnceLock::new();
    READER.get_or_init(|| Reader {
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        groups: rustix::process::getgroups()
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default(),
    })
}

/// Whether the creator's user may read the file; the OS's words when not. Decided from the
/// permission bits the walk already has; only when they say no is the kernel asked (an ACL may
/// still allow it), so a folder of readable files costs no extra system call per file.
#[cfg(unix)]
fn readable(path: &Path, meta: &std::fs::Metadata) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let who = reader();
    let mode = meta.mode();
    let allowed = who.uid == 0
        || if meta.uid() == who.uid {
            mode & 0o400 != 0
        } else if meta.gid() == who.gid || who.groups.contains(&meta.gid()) {
            mode & 0o040 != 0
        } else {
            mode & 0o004 != 0
        };
    if allowed {
        return Ok(());
    }
    rustix::fs::access(path, rustix::fs::Access::READ_OK).map_err(|e| match e {
        rustix::io::Errno::ACCESS => "permission denied".to_owned(),
        other => std::io::Error::from(other).to_string(),
    })
}

#[cfg(not(unix))]
fn readable(_path: &Path, _meta: &std::fs::Metadata) -> std::result::Result<(), String> {
    Ok(())
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

    #[test]
    fn nested_ignore_files_apply_below_their_folder_deepest_first() {
        let dir = tree();
        fs::write(dir.path().join(IGNORE_FILE), "*.cr2\n").unwrap();
        fs::write(dir.path().join("a").join(IGNORE_FILE), "2.jpg\n!raw.cr2\n").unwrap();
        let (found, _) = files(dir.path(), &ScanRules::default());
        assert_eq!(found, ["a/1.jpg", "a/1.json", "a/raw.cr2", "notes.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn an_ignore_file_that_is_a_link_a_fifo_or_huge_is_refused_not_read() {
        let outside = tempfile::NamedTempFile::new().unwrap();
        fs::write(outside.path(), "*.jpg\n").unwrap();
        /// What an ignore file is replaced by, and the words the error must use.
        type Plant<'a> = (&'a str, Box<dyn Fn(&Path) + 'a>);
        let cases: Vec<Plant> = vec![
            (
                "symbolic link",
                Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
            ),
            (
                "symbolic link",
                Box::new(|p: &Path| std::os::unix::fs::symlink(outside.path(), p).unwrap()),
            ),
            (
                "not a regular file",
                Box::new(|p: &Path| crate::untrusted::make_fifo(p)),
            ),
            (
                "bytes",
                Box::new(|p: &Path| {
                    fs::write(p, vec![b'#'; (MAX_IGNORE_FILE_BYTES + 1) as usize]).unwrap()
                }),
            ),
        ];
        for (says, plant) in cases {
            let dir = tree();
            plant(&dir.path().join("a").join(IGNORE_FILE));
            let root = resolve_folder(dir.path()).unwrap();
            let err = walk(&root, &ScanRules::default(), &CancelToken::new(), |_| {}).unwrap_err();
            assert!(matches!(err, Error::IgnoreFile { .. }), "{err}");
            assert!(err.to_string().contains(says), "{says}: {err}");
            assert!(err.to_string().contains("a/.hallmarkignore"), "{err}");
        }
    }
}
