//! Review before it leaves the desk: private metadata, personal data, broken and duplicate files,
//! and the statistics buyers look for, found on the creator's computer before anything is sealed.
//!
//! [`review`] walks the folder with the seal's walker and rules ([`crate::scan`]), then reads each
//! file once, in parallel, hashing all of it (SHA-256, as the seal does) and keeping at most
//! [`MAX_KEPT_BYTES`] of it for the detectors in [`media`] and [`personal`]. Findings name their
//! files and say what to do; each has an id derived from its kind and its files' paths and
//! content hashes, so the same finding keeps its id and a changed file gives a new one.
//!
//! The creator decides ([`decisions`]): accept a finding, or exclude its files. Decisions live in
//! the output folder (`.hallmark/review.json`), never in the creator's folder; exclusions become
//! exclude rules of every later seal, and the last review's facts feed the manifest's statistics.

pub mod decisions;
pub mod media;
pub mod personal;
pub mod statistics;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::digest::Sha256Digest;
use crate::progress::{CancelToken, Phase, Progress};
use crate::scan::{self, Found, FoundFile, ScanRules};
use crate::seal::{Tally, event};
use crate::{Error, Result};

pub use decisions::{Decision, ReviewRecord};
pub use media::{Facts, MediaKind};
pub use personal::PersonalData;
pub use statistics::Statistics;

/// The most of one file kept in memory for the detectors (the rest is only hashed). Images and
/// documents bigger than this are not decoded; text is searched in its first part.
pub const MAX_KEPT_BYTES: u64 = 64 << 20;
/// How many occurrences a personal-data finding lists (it counts them all).
pub const OCCURRENCES_LISTED: usize = 20;
/// The largest Hamming distance (of 64 bits) between two images' perceptual hashes that counts as
/// near-identical.
pub const NEAR_DISTANCE: u32 = 4;
/// Read buffer per worker.
const BUFFER: usize = 1 << 20;

/// How much a finding matters before the data leaves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Could harm the creator or someone else if it left: a home's GPS position, a client's
    /// phone number. Publishing asks once more while one is open.
    High,
    /// Worth a look: names in tags, serial numbers, a file that does not open.
    Medium,
    /// Quality: duplicates, a misleading extension.
    Low,
}

/// What kind of thing a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// GPS position in an image's EXIF or XMP.
    Location,
    /// Camera or lens serial numbers.
    SerialNumbers,
    /// Names of people in metadata: owner, artist, author.
    PeopleNames,
    /// E-mail addresses, phone numbers, card numbers or IBANs in text.
    PersonalData,
    /// A file that does not decode or parse.
    Broken,
    /// A file whose extension does not match its content.
    WrongExtension,
    /// Files with the same content.
    Duplicates,
    /// Images that look the same.
    NearDuplicates,
}

/// A file a finding is about, with its content hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FindingFile {
    /// The path inside the folder, `/`-separated (lossy where not UTF-8).
    pub path: String,
    pub sha256: String,
}

/// One place a personal value was found: its line and a masked excerpt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Occurrence {
    pub line: u64,
    pub excerpt: String,
}

/// Something the creator should see before the data leaves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable while the files are unchanged: `f-` and 12 hex digits.
    pub id: String,
    pub kind: FindingKind,
    pub severity: Severity,
    /// The files concerned; for duplicates, the first (the shortest path) is the one kept when the
    /// others are excluded.
    pub files: Vec<FindingFile>,
    /// What was found, in words (never a personal value itself).
    pub what: String,
    /// What the creator can do.
    pub advice: String,
    /// For personal data: which kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data: Option<PersonalData>,
    /// For personal data: how many values, and the first [`OCCURRENCES_LISTED`] masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub occurrences: Vec<Occurrence>,
    /// The creator's decision, if any was made for this finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

impl Finding {
    /// The files excluding this finding leaves out: all of them, except the kept copy of duplicates.
    pub fn files_to_exclude(&self) -> &[FindingFile] {
        match self.kind {
            FindingKind::Duplicates | FindingKind::NearDuplicates => &self.files[1..],
            _ => &self.files,
        }
    }

    /// Open: no decision yet.
    pub fn is_open(&self) -> bool {
        self.decision.is_none()
    }
}

/// One reviewed file's facts, kept for the statistics of a later seal (by path and content hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewedFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    pub kind: MediaKind,
    #[serde(flatten)]
    pub facts: Facts,
}

/// What a review found.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub root: PathBuf,
    pub files: u64,
    pub bytes: u64,
    /// Entries the walk passed over (links, junk, unreadable), as the seal would.
    pub skipped_total: u64,
    /// Most severe first, then by path.
    pub findings: Vec<Finding>,
    pub statistics: Statistics,
    /// Each file's facts, in path order (not printed; kept in the review record).
    #[serde(skip)]
    pub reviewed: Vec<ReviewedFile>,
}

impl Review {
    /// Findings with no decision yet, of at least `severity`.
    pub fn open(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| f.is_open() && f.severity <= severity)
    }
}

/// What reading one file gave.
#[derive(Debug)]
struct FileResult {
    path: String,
    sha256: String,
    size: u64,
    kind: MediaKind,
    examined: media::Examined,
    /// Could not be read as the walk saw it (changed, or the OS refused): why.
    unread: Option<String>,
}

/// Reviews the folder `root` under `rules`: every file the seal would take is read once, in
/// parallel. Decisions are not applied here (see [`decisions::review_dataset`]).
pub fn review(
    root: &Path,
    rules: &ScanRules,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Review> {
    let root = scan::resolve_folder(root)?;
    scan::check_rules(&root, rules)?;
    let mut files: Vec<FoundFile> = Vec::new();
    let mut skipped_total = 0;
    progress.report(&event(Phase::Scanning, 0, None, 0, None));
    scan::walk(&root, rules, cancel, |found| match found {
        Found::File(file) => files.push(file),
        Found::Folder => {}
        Found::Skipped(_) => skipped_total += 1,
    })?;
    files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    let total_files = files.len() as u64;
    let total_bytes: u64 = files.iter().map(|f| f.size).sum();
    let tally = Tally::new(progress, Phase::Reviewing, total_files, total_bytes);
    tally.add(0, 0);
    let results: Vec<FileResult> = files
        .par_iter()
        .map_init(
            || vec![0u8; BUFFER],
            |buffer, file| {
                cancel.check()?;
                let result = read_one(&root, file, buffer);
                tally.add(1, file.size);
                Ok(result)
            },
        )
        .collect::<Result<_>>()?;
    cancel.check()?;
    let findings = findings_of(&results);
    let reviewed: Vec<ReviewedFile> = results
        .iter()
        .filter(|r| r.unread.is_none())
        .map(|r| ReviewedFile {
            path: r.path.clone(),
            sha256: r.sha256.clone(),
            size: r.size,
            kind: r.kind,
            facts: r.examined.facts.clone(),
        })
        .collect();
    let statistics = Statistics::of(reviewed.iter());
    progress.report(&event(
        Phase::Done,
        total_files,
        Some(total_files),
        total_bytes,
        Some(total_bytes),
    ));
    Ok(Review {
        root,
        files: total_files,
        bytes: total_bytes,
        skipped_total,
        findings,
        statistics,
        reviewed,
    })
}

/// A file's path as findings name it.
pub fn path_text(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads one file (as the walk saw it, never through a link), hashing all of it and examining
/// what was kept.
fn read_one(root: &Path, file: &FoundFile, buffer: &mut [u8]) -> FileResult {
    let path = path_text(&file.rel);
    let extension = file
        .rel
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let kind = media::kind_of(&extension);
    let mut result = FileResult {
        path,
        sha256: String::new(),
        size: file.size,
        kind,
        examined: media::Examined::default(),
        unread: None,
    };
    let full = root.join(&file.rel);
    let opened = crate::untrusted::open_regular(&full);
    let (handle, meta) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            result.unread = Some(e.to_string());
            return result;
        }
    };
    if !file.is_as_seen(&meta) {
        result.unread = Some("it changed while the folder was being reviewed".into());
        return result;
    }
    let keep = file.size.min(MAX_KEPT_BYTES);
    let mut kept = Vec::with_capacity(usize::try_from(keep).unwrap_or(0));
    let mut hasher = Sha256::new();
    let mut reader = handle.take(file.size);
    let mut read = 0u64;
    loop {
        match reader.read(buffer) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
                let room = usize::try_from(keep.saturating_sub(kept.len() as u64)).unwrap_or(0);
                kept.extend_from_slice(&buffer[..n.min(room)]);
                read += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                result.unread = Some(e.to_string());
                return result;
            }
        }
    }
    if read != file.size {
        result.unread = Some("it changed while the folder was being reviewed".into());
        return result;
    }
    result.sha256 = Sha256Digest(hasher.finalize().into()).hex();
    let whole = kept.len() as u64 == file.size;
    let reopen = || {
        crate::untrusted::open_regular(&full)
            .ok()
            .filter(|(_, meta)| file.is_as_seen(meta))
            .map(|(f, _)| f)
    };
    result.examined = media::examine(&extension, &kept, whole, &reopen);
    result
}

/// The findings of every file, duplicates grouped, most severe first.
fn findings_of(results: &[FileResult]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for r in results {
        let file = || {
            vec![FindingFile {
                path: r.path.clone(),
                sha256: r.sha256.clone(),
            }]
        };
        if let Some(why) = &r.unread {
            findings.push(finding(
                FindingKind::Broken,
                Severity::Medium,
                vec![FindingFile {
                    path: r.path.clone(),
                    sha256: String::new(),
                }],
                format!("could not be read: {why}"),
                "check the file opens, then review again; or exclude it".into(),
                "unread",
            ));
            continue;
        }
        let mut personal: Vec<(PersonalData, Vec<Occurrence>, u64)> = Vec::new();
        for issue in &r.examined.issues {
            match issue {
                media::Issue::Location(tags) => findings.push(finding(
                    FindingKind::Location,
                    Severity::High,
                    file(),
                    format!("GPS position in the image's metadata ({})", tags.join(", ")),
                    "remove the location from the photo (most photo editors can strip GPS on export), or exclude the file".into(),
                    "",
                )),
                media::Issue::SerialNumbers(tags) => findings.push(finding(
                    FindingKind::SerialNumbers,
                    Severity::Medium,
                    file(),
                    format!("camera or lens serial number in the metadata ({})", tags.join(", ")),
                    "strip the serial numbers from the metadata if they should not identify your gear, or accept".into(),
                    "",
                )),
                media::Issue::PeopleNames(tags) => findings.push(finding(
                    FindingKind::PeopleNames,
                    Severity::Medium,
                    file(),
                    format!("names of people in the metadata ({})", tags.join(", ")),
                    "accept if the name is yours and meant to be credited; otherwise clear these fields or exclude the file".into(),
                    "",
                )),
                media::Issue::Broken(why) => findings.push(finding(
                    FindingKind::Broken,
                    Severity::Medium,
                    file(),
                    format!("does not open: {why}"),
                    "replace it with a good copy, or exclude it: buyers' loaders stop on broken files".into(),
                    "",
                )),
                media::Issue::WrongExtension { content } => findings.push(finding(
                    FindingKind::WrongExtension,
                    Severity::Low,
                    file(),
                    format!("the content is {content}, not what the name's extension says"),
                    format!("rename it with the .{content} extension, or accept"),
                    "",
                )),
                media::Issue::Personal(m) => {
                    match personal.iter_mut().find(|(k, _, _)| *k == m.kind) {
                        Some((_, list, count)) => {
                            *count += 1;
                            if list.len() < OCCURRENCES_LISTED {
                                list.push(Occurrence { line: m.line, excerpt: m.excerpt.clone() });
                            }
                        }
                        None => personal.push((
                            m.kind,
                            vec![Occurrence { line: m.line, excerpt: m.excerpt.clone() }],
                            1,
                        )),
                    }
                }
            }
        }
        for (kind, occurrences, count) in personal {
            let mut f = finding(
                FindingKind::PersonalData,
                Severity::High,
                file(),
                format!(
                    "{count} {}{} in the text",
                    kind.words(),
                    if count == 1 { "" } else { "s" }
                ),
                "remove or replace them (for example with example.com addresses), or exclude the file; accept only if you may share them".into(),
                match kind {
                    PersonalData::Email => "email",
                    PersonalData::Phone => "phone",
                    PersonalData::PaymentCard => "card",
                    PersonalData::Iban => "iban",
                },
            );
            f.personal_data = Some(kind);
            f.count = Some(count);
            f.occurrences = occurrences;
            findings.push(f);
        }
    }
    findings.extend(duplicates(results));
    findings.extend(near_duplicates(results));
    findings.sort_by(|a, b| {
        (a.severity, &a.files[0].path, &a.id).cmp(&(b.severity, &b.files[0].path, &b.id))
    });
    findings
}

fn finding(
    kind: FindingKind,
    severity: Severity,
    files: Vec<FindingFile>,
    what: String,
    advice: String,
    detail: &str,
) -> Finding {
    Finding {
        id: finding_id(kind, &files, detail),
        kind,
        severity,
        files,
        what,
        advice,
        personal_data: None,
        count: None,
        occurrences: Vec::new(),
        decision: None,
    }
}

/// `f-` and the first 12 hex digits of SHA-256 over the kind, a detail and each file's path and hash.
fn finding_id(kind: FindingKind, files: &[FindingFile], detail: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_string(&kind).unwrap_or_default());
    hasher.update([0]);
    hasher.update(detail);
    for file in files {
        hasher.update([0]);
        hasher.update(&file.path);
        hasher.update([0]);
        hasher.update(&file.sha256);
    }
    let digest = Sha256Digest(hasher.finalize().into()).hex();
    format!("f-{}", &digest[..12])
}

/// Files with the same SHA-256 (empty files aside), grouped, in path order.
fn duplicates(results: &[FileResult]) -> Vec<Finding> {
    let mut by_hash: HashMap<&str, Vec<&FileResult>> = HashMap::new();
    for r in results.iter().filter(|r| r.unread.is_none() && r.size > 0) {
        by_hash.entry(&r.sha256).or_default().push(r);
    }
    let mut groups: Vec<Vec<&FileResult>> = by_hash.into_values().filter(|g| g.len() > 1).collect();
    for group in &mut groups {
        group.sort_by(|a, b| keep_first(&a.path, &b.path));
    }
    groups.sort_by(|a, b| a[0].path.cmp(&b[0].path));
    groups
        .into_iter()
        .map(|group| {
            let n = group.len();
            finding(
                FindingKind::Duplicates,
                Severity::Low,
                group
                    .iter()
                    .map(|r| FindingFile {
                        path: r.path.clone(),
                        sha256: r.sha256.clone(),
                    })
                    .collect(),
                format!("{n} files with the same content"),
                format!(
                    "exclude the {} extra {} (the first is kept), or accept if each is meant to be there",
                    n - 1,
                    if n == 2 { "copy" } else { "copies" }
                ),
                "",
            )
        })
        .collect()
}

/// The order of a group's files: the one to keep first. Copies usually have longer names
/// (`photo (1).jpg`, `photo-copy.jpg`), so the shortest path comes first, then by path.
fn keep_first(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

/// Images whose perceptual hashes differ in at most [`NEAR_DISTANCE`] bits (and whose content is
/// not identical), grouped. Pairs are found through buckets: split in `NEAR_DISTANCE + 1` parts,
/// two hashes that close share at least one part exactly, so only bucket-mates are compared.
fn near_duplicates(results: &[FileResult]) -> Vec<Finding> {
    let images: Vec<(&FileResult, u64)> = results
        .iter()
        .filter_map(|r| r.examined.image_hash.map(|h| (r, h)))
        .collect();
    let parts = NEAR_DISTANCE + 1;
    let width = 64 / parts;
    let mut parent: Vec<usize> = (0..images.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for part in 0..parts {
        let shift = part * width;
        let bits = if part == parts - 1 { 64 - shift } else { width };
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let mut buckets: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, (_, hash)) in images.iter().enumerate() {
            buckets.entry((hash >> shift) & mask).or_default().push(i);
        }
        for members in buckets.values() {
            for (n, &a) in members.iter().enumerate() {
                for &b in &members[n + 1..] {
                    let close = (images[a].1 ^ images[b].1).count_ones() <= NEAR_DISTANCE;
                    if close && images[a].0.sha256 != images[b].0.sha256 {
                        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                        if ra != rb {
                            parent[ra.max(rb)] = ra.min(rb);
                        }
                    }
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..images.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
    for group in &mut groups {
        group.sort_by(|&a, &b| keep_first(&images[a].0.path, &images[b].0.path));
    }
    groups.sort_by(|a, b| images[a[0]].0.path.cmp(&images[b[0]].0.path));
    groups
        .into_iter()
        .map(|group| {
            let n = group.len();
            finding(
                FindingKind::NearDuplicates,
                Severity::Low,
                group
                    .iter()
                    .map(|&i| FindingFile {
                        path: images[i].0.path.clone(),
                        sha256: images[i].0.sha256.clone(),
                    })
                    .collect(),
                format!("{n} images that look the same (perceptual hash)"),
                "keep the best one and exclude the others, or accept if the differences matter"
                    .into(),
                "",
            )
        })
        .collect()
}

/// The error for a finding id the last review does not have.
pub(crate) fn unknown_finding(id: &str, out: &Path) -> Error {
    Error::UnknownFinding {
        id: id.to_owned(),
        out: out.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{NoProgress, ProgressRecorder};

    fn image_result(path: &str, hash: u64) -> FileResult {
        FileResult {
            path: path.into(),
            sha256: format!("{hash:064x}"),
            size: 10,
            kind: MediaKind::Image,
            examined: media::Examined {
                image_hash: Some(hash),
                ..media::Examined::default()
            },
            unread: None,
        }
    }

    #[test]
    fn near_duplicates_are_within_four_bits_wherever_the_bits_differ() {
        let base = 0x0123_4567_89AB_CDEF_u64;
        // Four bits apart, one in each of four of the five hash parts: still found.
        let spread = base ^ (1 | 1 << 13 | 1 << 26 | 1 << 39);
        // Five bits apart: not near.
        let far = base ^ 0b1_1111 << 50;
        let results = [
            image_result("b.png", base),
            image_result("a-edit.png", spread),
            image_result("c.png", far),
        ];
        let found = near_duplicates(&results);
        assert_eq!(found.len(), 1);
        let paths: Vec<&str> = found[0].files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["b.png", "a-edit.png"], "shortest path first");
        assert_eq!(found[0].files_to_exclude().len(), 1);
    }

    #[test]
    fn a_review_reports_progress_and_stops_when_cancelled() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("{i}.txt")), format!("note {i}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let recorder = ProgressRecorder::default();
        let review = review(
            dir.path(),
            &ScanRules::default(),
            &recorder,
            &CancelToken::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((review.files, review.bytes), (5, 30));
        assert!(review.findings.is_empty(), "{:?}", review.findings);
        let last = recorder
            .events()
            .pop()
            .unwrap_or_else(|| panic!("no events"));
        assert_eq!((last.phase, last.items_done), (Phase::Done, 5));

        let cancel = CancelToken::new();
        cancel.cancel();
        let stopped = super::review(dir.path(), &ScanRules::default(), &NoProgress, &cancel);
        assert!(matches!(stopped, Err(Error::Cancelled)), "{stopped:?}");
    }

    #[test]
    fn finding_ids_follow_paths_and_content() {
        let file = |path: &str, sha: &str| FindingFile {
            path: path.into(),
            sha256: sha.into(),
        };
        let a = finding_id(FindingKind::Location, &[file("a.jpg", "11")], "");
        assert_eq!(
            a,
            finding_id(FindingKind::Location, &[file("a.jpg", "11")], "")
        );
        assert_ne!(
            a,
            finding_id(FindingKind::Location, &[file("a.jpg", "12")], "")
        );
        assert_ne!(
            a,
            finding_id(FindingKind::Location, &[file("b.jpg", "11")], "")
        );
        assert_ne!(
            a,
            finding_id(FindingKind::PeopleNames, &[file("a.jpg", "11")], "")
        );
        assert!(a.starts_with("f-") && a.len() == 14);
    }
}
