//! The studio's defaults for new datasets: the shard size a seal starts from and the files every
//! folder leaves out (gitignore-style patterns, on top of each folder's `.hallmarkignore`), kept
//! in `defaults.json` in the data folder.
//!
//! The file is untrusted on reading: bounded, strict, every value checked as [`Defaults::check`]
//! checks what the creator types.

use std::path::Path;

use crate::scan::ScanRules;
use crate::seal::{DEFAULT_SHARD_SIZE, SealOptions};
use crate::{Error, Result, dataset, untrusted};

/// The smallest shard size allowed, in bytes.
pub const MIN_SHARD_SIZE: u64 = 1 << 20;
/// The largest shard size allowed, in bytes.
pub const MAX_SHARD_SIZE: u64 = 4 << 30;
/// The most patterns kept.
pub const MAX_EXCLUDES: usize = 200;
/// The longest pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// The largest `defaults.json` read.
const MAX_BYTES: u64 = 256 << 10;

/// What a new dataset starts from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    /// Target shard size in bytes.
    pub shard_size: u64,
    /// Gitignore-style patterns of files to leave out of every dataset (`*.psd`, `drafts/`).
    pub excludes: Vec<String>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            shard_size: DEFAULT_SHARD_SIZE,
            excludes: Vec::new(),
        }
    }
}

impl Defaults {
    /// Reads them from `file`; a missing file gives the built-in defaults.
    pub fn load(file: &Path) -> Result<Self> {
        let Some(bytes) = untrusted::read_capped_if_present(file, MAX_BYTES)? else {
            return Ok(Self::default());
        };
        let damaged = |detail: String| Error::DamagedRecord {
            path: file.to_path_buf(),
            detail: format!("{detail}; set your defaults again in Settings, or remove the file"),
        };
        // Strict JSON (no key twice, bounded depth), then the shape.
        let value = crate::json::from_slice(&bytes, MAX_BYTES as usize)
            .map_err(|e| damaged(e.to_string()))?;
        let defaults: Self = serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
        defaults.check().map_err(|e| damaged(e.to_string()))?;
        Ok(defaults)
    }

    /// Checks them (see [`Defaults::check`]) and writes them to `file`, atomically.
    pub fn save(&self, file: &Path) -> Result<()> {
        self.check()?;
        dataset::save_json(file, self)
    }

    /// A shard size between [`MIN_SHARD_SIZE`] and [`MAX_SHARD_SIZE`]; at most [`MAX_EXCLUDES`]
    /// patterns, each non-empty, at most [`MAX_PATTERN_BYTES`], on one line, and a valid glob.
    pub fn check(&self) -> Result<()> {
        if !(MIN_SHARD_SIZE..=MAX_SHARD_SIZE).contains(&self.shard_size) {
            return Err(Error::InvalidDefault {
                detail: format!(
                    "a shard size of {} bytes is outside what Hallmark makes: choose between 1 MiB and 4 GiB",
                    self.shard_size
                ),
            });
        }
        if self.excludes.len() > MAX_EXCLUDES {
            return Err(Error::InvalidDefault {
                detail: format!(
                    "{} patterns of files to leave out is more than the {MAX_EXCLUDES} kept: use broader patterns such as *.psd",
                    self.excludes.len()
                ),
            });
        }
        for pattern in &self.excludes {
            let bad = |why: &str| Error::InvalidPattern {
                pattern: pattern.clone(),
                detail: why.to_owned(),
            };
            if pattern.trim().is_empty() {
                return Err(bad("it is empty"));
            }
            if pattern.len() > MAX_PATTERN_BYTES {
                return Err(bad("it is longer than 256 bytes"));
            }
            if pattern.chars().any(hidden) {
                return Err(bad(
                    "it holds a line break, a control character or an invisible direction mark",
                ));
            }
        }
        crate::scan::check_rules(Path::new("/"), &self.rules())
    }

    /// Which files of a folder belong to a dataset under these defaults.
    pub fn rules(&self) -> ScanRules {
        ScanRules {
            exclude: self.excludes.clone(),
            ..ScanRules::default()
        }
    }

    /// How to seal under these defaults, with `shard_size` chosen for this dataset.
    pub fn seal_options(&self, shard_size: u64) -> SealOptions {
        SealOptions {
            rules: self.rules(),
            shard_size,
        }
    }
}

/// A character that is not seen as itself: controls, line and paragraph separators, and the marks
/// that reorder text (a pattern shown in Settings must read as what it matches).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_defaults_read_back_and_a_missing_file_is_the_built_in_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("defaults.json");
        assert_eq!(Defaults::load(&file).expect("missing"), Defaults::default());
        let mine = Defaults {
            shard_size: 16 << 20,
            excludes: vec!["*.psd".into(), "drafts/".into()],
        };
        mine.save(&file).expect("saved");
        assert_eq!(Defaults::load(&file).expect("read"), mine);
        assert_eq!(mine.rules().exclude, mine.excludes);
        assert!(mine.rules().skip_junk);
    }

    #[test]
    fn bad_values_are_refused_naming_the_fix_and_a_bad_file_is_not_used() {
        let tiny = Defaults {
            shard_size: 1000,
            ..Defaults::default()
        };
        let said = tiny.check().expect_err("too small").to_string();
        assert!(said.contains("between 1 MiB and 4 GiB"), "{said}");
        for pattern in ["", "a\nb", "[unclosed", "*.\u{202E}dsp"] {
            let bad = Defaults {
                excludes: vec![pattern.into()],
                ..Defaults::default()
            };
            assert!(bad.check().is_err(), "{pattern:?} accepted");
        }
        let many = Defaults {
            excludes: vec!["*.tmp".into(); MAX_EXCLUDES + 1],
            ..Defaults::default()
        };
        assert!(many.check().is_err());

        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("defaults.json");
        std::fs::write(&file, br#"{"shardSize": 5, "excludes": []}"#).expect("write");
        let said = Defaults::load(&file).expect_err("damaged").to_string();
        assert!(said.contains("Settings"), "{said}");
        std::fs::write(&file, br#"{"shardSize": 1048576, "excludes": [], "x": 1}"#).expect("write");
        assert!(Defaults::load(&file).is_err());
        // A key twice is not "the last one wins".
        let twice = br#"{"shardSize": 1048576, "excludes": [], "excludes": ["*.psd"]}"#;
        std::fs::write(&file, twice).expect("write");
        assert!(Defaults::load(&file).is_err());
    }
}
