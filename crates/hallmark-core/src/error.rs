//! The core's error type: says what failed, on which path, and what the creator can do about it.

use std::io;
use std::path::{Path, PathBuf};

/// Result with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the core can fail with. Messages are lower-case, name the thing, and end with the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The folder the creator named does not exist.
    #[error("folder not found: {}; check the path, or pick the folder again", path.display())]
    FolderNotFound { path: PathBuf },

    /// The path names a file (or something else) where a folder was expected.
    #[error("not a folder: {}; pick the folder that holds your work, not a single file", path.display())]
    NotAFolder { path: PathBuf },

    /// A path that cannot be used at all (empty, relative where absolute is needed, …).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },

    /// The OS refused access to a path the operation cannot do without.
    #[error("permission denied: {}; give your user read access to it, or pick another folder", path.display())]
    PermissionDenied { path: PathBuf },

    /// Any other I/O failure on a named path.
    // The OS's words are in the message, and not also a `source`, so that a shell printing the
    // error chain does not say them twice.
    #[error("cannot read or write {}: {reason}", path.display())]
    Io { path: PathBuf, reason: io::Error },

    /// An include or exclude pattern that is not a valid glob.
    #[error(
        "invalid pattern {pattern:?}: {detail}; patterns use gitignore syntax, such as \"*.jpg\" or \"raw/**\""
    )]
    InvalidPattern { pattern: String, detail: String },

    /// A file changed while Hallmark read it, so its hash would describe neither version.
    #[error("{} changed while it was being read; wait until it is saved, then seal again", path.display())]
    ChangedWhileReading { path: PathBuf },

    /// A `.hallmarkignore` that cannot be used: a link, not a regular file, too big, a bad pattern.
    #[error("cannot use the ignore file {}: {detail}; make it a regular text file of at most 1 MiB in gitignore syntax, or remove it", path.display())]
    IgnoreFile { path: PathBuf, detail: String },

    /// A finding id the last review of an output folder does not list.
    #[error("the last review of {} has no finding {id}; review again (hallmark review DIR --out {}) and use an id it lists", out.display(), out.display())]
    UnknownFinding { id: String, out: PathBuf },

    /// A decision asked for in an output folder that was never reviewed.
    #[error("{} has no review yet; run hallmark review DIR --out {} first", out.display(), out.display())]
    NotReviewed { out: PathBuf },

    /// A default for new datasets that cannot be used (the words say which and what to choose).
    #[error("{detail}")]
    InvalidDefault { detail: String },

    /// A shard size of zero bytes.
    #[error("the shard size must be more than 0 bytes; try 64MiB, or 4MiB for micro-shards")]
    InvalidShardSize,

    /// The output folder is inside the folder being sealed.
    #[error("the output folder {} is inside the folder being sealed ({}); choose an output folder outside it", out.display(), source_folder.display())]
    OutputInsideSource {
        out: PathBuf,
        source_folder: PathBuf,
    },

    /// The source folder no longer has what was sealed.
    #[error("the folder {} changed since it was sealed: {detail}; seal it again", source_folder.display())]
    SourceChanged {
        source_folder: PathBuf,
        detail: String,
    },

    /// A source file is not the one a seal recorded (gone, another size, other bytes).
    #[error("{} is not the file that was sealed: {detail}; seal the folder again (hallmark seal), then publish the new seal", path.display())]
    SealedFileChanged { path: PathBuf, detail: String },

    /// A shard CID the dataset's manifest does not list.
    #[error("shard {cid} is not in this dataset's manifest; use a CID the manifest lists")]
    UnknownShard { cid: String },

    /// A byte offset past the end of a shard.
    #[error(
        "offset {offset} is past the end of shard {cid}, which is {size} bytes; start at most at its size"
    )]
    OffsetPastShard { cid: String, offset: u64, size: u64 },

    /// A license that is not a valid SPDX expression.
    #[error(
        "{license:?} is not an SPDX license expression ({detail}); use an identifier from https://spdx.org/licenses such as CC-BY-4.0, or LicenseRef-<name> for your own terms"
    )]
    InvalidLicense { license: String, detail: String },

    /// A required piece of dataset information is missing.
    #[error("the dataset's {field} is missing: {hint}")]
    MissingField {
        field: &'static str,
        hint: &'static str,
    },

    /// A value the creator gave that has the wrong form (a version that is not semver, …).
    #[error("the dataset's {field} {value:?} is not valid: {detail}")]
    InvalidField {
        field: &'static str,
        value: String,
        detail: String,
    },

    /// The output folder holds a seal of another source folder.
    #[error("{} holds a seal of {}, not of {}; choose another output folder, or replace that dataset on purpose (hallmark seal --replace-source)", out.display(), sealed.display(), given.display())]
    OtherSource {
        out: PathBuf,
        sealed: PathBuf,
        given: PathBuf,
    },

    /// Another seal of the same output folder is running.
    #[error("another Hallmark job (a seal or a signature) is changing {} right now; wait for it to finish, or cancel it", out.display())]
    SealRunning { out: PathBuf },

    /// The output folder was sealed by an earlier version of Hallmark.
    #[error("{} was sealed by an earlier version of Hallmark; seal the folder again (hallmark seal DIR --out {} --rehash)", out.display(), out.display())]
    OlderSeal { out: PathBuf },

    /// The folder holds no sealed dataset.
    #[error("{} holds no sealed dataset; seal a folder into it first with `hallmark seal DIR --out {}`", out.display(), out.display())]
    NotSealed { out: PathBuf },

    /// A file Hallmark wrote earlier no longer parses.
    #[error("{} is damaged ({detail}); if Hallmark wrote it, seal the folder again to write it anew; if you received it, ask for a new copy", path.display())]
    Damaged { path: PathBuf, detail: String },

    /// A record Hallmark keeps for itself (not part of a dataset) no longer parses; `detail`
    /// says what is wrong and what to do.
    #[error("{} is damaged: {detail}", path.display())]
    DamagedRecord { path: PathBuf, detail: String },

    /// The job was cancelled by the creator; nothing was changed.
    #[error("cancelled")]
    Cancelled,
}

/// The coarse class of an [`Error`], for shells that branch on it (IPC codes, CLI exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input named something that is not there.
    NotFound,
    /// The input is of the wrong shape.
    InvalidInput,
    /// The OS refused access.
    PermissionDenied,
    /// The creator cancelled.
    Cancelled,
    /// The source changed under the operation.
    Changed,
    /// Stored state is damaged.
    Damaged,
    /// Any other I/O failure.
    Io,
}

impl Error {
    /// Maps an I/O error on `path` to the most specific variant.
    pub fn from_io(path: &Path, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::NotFound => Error::FolderNotFound {
                path: path.to_path_buf(),
            },
            io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                path: path.to_path_buf(),
            },
            io::ErrorKind::NotADirectory => Error::NotAFolder {
                path: path.to_path_buf(),
            },
            _ => Error::Io {
                path: path.to_path_buf(),
                reason: source,
            },
        }
    }

    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::FolderNotFound { .. } | Error::NotSealed { .. } | Error::OlderSeal { .. } => {
                ErrorKind::NotFound
            }
            Error::OtherSource { .. } => ErrorKind::InvalidInput,
            Error::UnknownFinding { .. } | Error::NotReviewed { .. } => ErrorKind::InvalidInput,
            Error::InvalidDefault { .. } => ErrorKind::InvalidInput,
            Error::SealRunning { .. } => ErrorKind::Io,
            Error::NotAFolder { .. } | Error::InvalidPath { .. } | Error::InvalidPattern { .. } => {
                ErrorKind::InvalidInput
            }
            Error::ChangedWhileReading { .. }
            | Error::SourceChanged { .. }
            | Error::SealedFileChanged { .. } => ErrorKind::Changed,
            Error::UnknownShard { .. } | Error::OffsetPastShard { .. } => ErrorKind::InvalidInput,
            Error::InvalidShardSize
            | Error::IgnoreFile { .. }
            | Error::OutputInsideSource { .. }
            | Error::InvalidLicense { .. }
            | Error::MissingField { .. }
            | Error::InvalidField { .. } => ErrorKind::InvalidInput,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::Io { .. } => ErrorKind::Io,
            Error::Damaged { .. } | Error::DamagedRecord { .. } => ErrorKind::Damaged,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_the_variant_that_names_the_fix() {
        let p = Path::new("/nowhere");
        let e = Error::from_io(p, io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "folder not found: /nowhere; check the path, or pick the folder again"
        );
        let e = Error::from_io(p, io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("give your user read access"));
    }
}
