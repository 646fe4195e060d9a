//! The creator's decisions on findings, kept with the dataset: `.hallmark/review.json` in the
//! output folder (never in the creator's folder), with the last review's findings and facts.
//!
//! A decision names its finding by id, and the id is derived from the files' paths and content
//! hashes: a changed file gives a new finding that is open again. Excluding a finding adds its
//! files (by exact path) to the exclude rules of every seal of that output folder; accepting one
//! leaves the files in. A publish asks once more while the last review has open high findings.

use std::path::{Path, PathBuf};

use super::{Finding, FindingFile, Review, ReviewedFile, Severity, Statistics};
use crate::progress::{CancelToken, Progress};
use crate::scan::ScanRules;
use crate::{Error, Result, dataset, untrusted};

/// The review record's name inside `.hallmark/`.
pub const REVIEW_FILE: &str = "review.json";
/// The largest review record read (it lists every reviewed file).
const MAX_RECORD_BYTES: u64 = 256 << 20;
/// The format of `review.json` this version writes.
const RECORD_VERSION: u32 = 1;

/// What the creator decided about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Seen, and the files stay in.
    Accepted,
    /// The files (for duplicates: the extra copies) are left out of every seal.
    Excluded,
}

/// One decision, with the files it was made on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecisionEntry {
    pub id: String,
    pub decision: Decision,
    /// For an exclusion, the files left out; for an acceptance, the finding's files.
    pub files: Vec<FindingFile>,
}

/// What Hallmark keeps of the reviews of one output folder.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewRecord {
    pub version: u32,
    /// The folder reviewed.
    pub source: PathBuf,
    pub decisions: Vec<DecisionEntry>,
    /// The last review's findings, decisions applied.
    pub findings: Vec<Finding>,
    /// The last review's facts of each file, for the manifest's statistics.
    pub files: Vec<ReviewedFile>,
}

impl ReviewRecord {
    /// The record in `out`, or `None` when no review was kept there.
    pub fn load(out: &Path) -> Result<Option<Self>> {
        let path = out.join(dataset::STATE_DIR).join(REVIEW_FILE);
        let Some(bytes) = untrusted::read_capped_if_present(&path, MAX_RECORD_BYTES)? else {
            return Ok(None);
        };
        let damaged = |detail: String| Error::Damaged {
            path: path.clone(),
            detail: format!("{detail}; delete it and review again"),
        };
        let record: Self = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
        if record.version != RECORD_VERSION {
            return Err(damaged(format!("it is of format {}", record.version)));
        }
        for file in record.decisions.iter().flat_map(|d| &d.files) {
            untrusted::relative_path(Path::new(&file.path))
                .map_err(|why| damaged(format!("it names the path {:?}: {why}", file.path)))?;
        }
        Ok(Some(record))
    }

    fn save(&self, out: &Path) -> Result<()> {
        let dir = untrusted::own_dir(&out.join(dataset::STATE_DIR))?;
        let bytes = serde_json::to_vec(self).map_err(|e| Error::Damaged {
            path: dir.join(REVIEW_FILE),
            detail: e.to_string(),
        })?;
        dataset::write_atomic(&dir, REVIEW_FILE, &bytes)
    }

    /// The exclude rules the decisions make: each excluded file by its exact path.
    pub fn exclusions(&self) -> Vec<String> {
        let mut globs: Vec<String> = self
            .decisions
            .iter()
            .filter(|d| d.decision == Decision::Excluded)
            .flat_map(|d| &d.files)
            .map(|f| exact_glob(&f.path))
            .collect();
        globs.sort();
        globs.dedup();
        globs
    }

    /// The decision on a finding, if any.
    fn decision_of(&self, id: &str) -> Option<Decision> {
        self.decisions
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.decision)
    }

    /// Findings of the last review with no decision, of at least `severity`.
    pub fn open(&self, severity: Severity) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.decision.is_none() && f.severity <= severity)
            .collect()
    }
}

/// A gitignore glob that matches exactly one path from the folder's root (metacharacters escaped).
pub fn exact_glob(path: &str) -> String {
    let mut glob = String::with_capacity(path.len() + 1);
    glob.push('/');
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\' | '!') {
            glob.push('\\');
        }
        glob.push(c);
    }
    glob
}

/// `rules` with the exclusions decided in `out` added (once each).
pub fn rules_with_exclusions(out: &Path, rules: &ScanRules) -> Result<ScanRules> {
    let mut rules = rules.clone();
    if let Some(record) = ReviewRecord::load(out)? {
        for glob in record.exclusions() {
            if !rules.exclude.contains(&glob) {
                rules.exclude.push(glob);
            }
        }
    }
    Ok(rules)
}

/// Reviews `root` for the dataset in `out`: under the rules of its last seal (`unsealed_rules`
/// when it was never sealed) and the exclusions decided, with earlier decisions applied; keeps the findings and facts in `out`.
/// `out` is created if needed (it must be outside `root`, as for a seal).
pub fn review_dataset(
    root: &Path,
    out: &Path,
    unsealed_rules: &ScanRules,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Review> {
    let resolved = crate::scan::resolve_folder(root)?;
    let out = crate::seal::output_folder(&resolved, out)?;
    let sealed_rules = match dataset::load_state(&out) {
        Ok(state) => state.options.rules,
        Err(Error::NotSealed { .. } | Error::FolderNotFound { .. }) => unsealed_rules.clone(),
        Err(e) => return Err(e),
    };
    let mut record = ReviewRecord::load(&out)?.unwrap_or_default();
    let rules = rules_with_exclusions(&out, &sealed_rules)?;
    let mut review = super::review(&resolved, &rules, progress, cancel)?;
    for finding in &mut review.findings {
        finding.decision = record.decision_of(&finding.id);
    }
    std::fs::create_dir_all(&out).map_err(|e| Error::from_io(&out, e))?;
    record.version = RECORD_VERSION;
    record.source = resolved;
    record.findings = review.findings.clone();
    record.files = review.reviewed.clone();
    record.save(&out)?;
    Ok(review)
}

/// Records `decision` on the findings `ids` of the last review kept in `out`, and returns them.
/// An exclusion takes effect at the next seal of `out`.
pub fn decide(out: &Path, ids: &[String], decision: Decision) -> Result<Vec<Finding>> {
    let mut record = ReviewRecord::load(out)?.ok_or_else(|| Error::NotReviewed {
        out: out.to_path_buf(),
    })?;
    let mut decided = Vec::new();
    for id in ids {
        let finding = record
            .findings
            .iter_mut()
            .find(|f| &f.id == id)
            .ok_or_else(|| super::unknown_finding(id, out))?;
        finding.decision = Some(decision);
        let files = match decision {
            Decision::Excluded => finding.files_to_exclude().to_vec(),
            Decision::Accepted => finding.files.clone(),
        };
        let entry = DecisionEntry {
            id: id.clone(),
            decision,
            files,
        };
        decided.push(finding.clone());
        match record.decisions.iter_mut().find(|d| &d.id == id) {
            Some(existing) => *existing = entry,
            None => record.decisions.push(entry),
        }
    }
    record.save(out)?;
    Ok(decided)
}

/// Takes back the decisions on `ids` (the findings are open again; excluded files come back at
/// the next seal), and returns the findings.
pub fn reopen(out: &Path, ids: &[String]) -> Result<Vec<Finding>> {
    let mut record = ReviewRecord::load(out)?.ok_or_else(|| Error::NotReviewed {
        out: out.to_path_buf(),
    })?;
    let mut reopened = Vec::new();
    for id in ids {
        let before = record.decisions.len();
        record.decisions.retain(|d| &d.id != id);
        let finding = record.findings.iter_mut().find(|f| &f.id == id);
        match finding {
            Some(finding) => {
                finding.decision = None;
                reopened.push(finding.clone());
            }
            None if record.decisions.len() < before => {}
            None => return Err(super::unknown_finding(id, out)),
        }
    }
    record.save(out)?;
    Ok(reopened)
}

/// The findings of the last review of `out` that are high and still open; `None` when `out` was
/// never reviewed. Publishing asks once more while this is not empty.
pub fn open_high_findings(out: &Path) -> Result<Option<Vec<Finding>>> {
    Ok(ReviewRecord::load(out)?
        .map(|record| record.open(Severity::High).into_iter().cloned().collect()))
}

/// The statistics of the dataset whose index was just written to `index` (in a seal's staging
/// folder): every file counted by kind and size, measured where the last review of `out` saw the
/// same path with the same content. `None` when `out` was never reviewed.
pub fn statistics_for_seal(out: &Path, index: &Path) -> Result<Option<Statistics>> {
    let Some(record) = ReviewRecord::load(out)? else {
        return Ok(None);
    };
    let facts: std::collections::HashMap<(&str, &str), &ReviewedFile> = record
        .files
        .iter()
        .map(|f| ((f.path.as_str(), f.sha256.as_str()), f))
        .collect();
    let mut stats = Statistics::default();
    crate::seal::read_index(index, |sample| {
        for file in &sample.files {
            let extension = Path::new(&file.path)
                .extension()
                .map(|e| e.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            let kind = super::media::kind_of(&extension);
            let seen = facts.get(&(file.path.as_str(), file.sha256.as_str()));
            stats.add(kind, file.size, seen.map(|f| &f.facts));
        }
        Ok(())
    })?;
    Ok(Some(stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_globs_match_only_their_path() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
        for name in ["a[1].jpg", "a1.jpg", "b*.txt", "bx.txt", "sub"] {
            std::fs::write(root.join(name), b"x").unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::remove_file(root.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(root.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("sub/a[1].jpg"), b"x").unwrap_or_else(|e| panic!("{e}"));
        let rules = ScanRules {
            exclude: vec![exact_glob("a[1].jpg"), exact_glob("b*.txt")],
            ..ScanRules::default()
        };
        let mut found = Vec::new();
        crate::scan::walk(&root, &rules, &CancelToken::new(), |f| {
            if let crate::scan::Found::File(file) = f {
                found.push(super::super::path_text(&file.rel));
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        found.sort();
        assert_eq!(found, vec!["a1.jpg", "bx.txt", "sub/a[1].jpg"]);
    }
}
