//! The types that cross IPC, converted from core types, with TypeScript bindings generated from them.
//!
//! `ui/src/lib/bindings.ts` is generated from this file; a test fails when it drifts.
//! Regenerate with `HALLMARK_UPDATE_BINDINGS=1 cargo test -p hallmark-app bindings`.

mod market;

use std::path::Path;

pub use market::*;

use hallmark_core::{dataset, folder, manifest, progress, recent};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A path as text for the UI. Non-UTF-8 bytes are shown as U+FFFD; the core keeps the real path.
pub fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// What a folder holds, as the Datasets screen shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FolderSummary {
    pub root: String,
    pub files: u64,
    pub bytes: u64,
    pub folders: u64,
    /// Entries passed over, at most a couple of hundred by path.
    pub skipped: Vec<SkippedEntry>,
    pub skipped_total: u64,
}

/// An entry the walk passed over, and why in plain words.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SkippedEntry {
    pub path: String,
    pub reason: String,
}

impl From<&hallmark_core::scan::SkippedEntry> for SkippedEntry {
    fn from(e: &hallmark_core::scan::SkippedEntry) -> Self {
        Self {
            path: path_text(&e.path),
            reason: e.reason.to_string(),
        }
    }
}

impl From<&folder::FolderSummary> for FolderSummary {
    fn from(s: &folder::FolderSummary) -> Self {
        Self {
            root: path_text(&s.root),
            files: s.files,
            bytes: s.bytes,
            folders: s.folders,
            skipped: s.skipped.iter().map(SkippedEntry::from).collect(),
            skipped_total: s.skipped_total,
        }
    }
}

/// What a job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum JobPhase {
    Scanning,
    Hashing,
    Exporting,
    Uploading,
    Reviewing,
    Done,
}

/// One progress message of a job, the same shape for every job.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    pub job_id: String,
    pub phase: JobPhase,
    pub items_done: u64,
    pub items_total: Option<u64>,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    pub message: Option<String>,
}

impl JobProgress {
    pub fn new(job_id: &str, e: &progress::ProgressEvent) -> Self {
        Self {
            job_id: job_id.to_owned(),
            phase: match e.phase {
                progress::Phase::Scanning => JobPhase::Scanning,
                progress::Phase::Hashing => JobPhase::Hashing,
                progress::Phase::Exporting => JobPhase::Exporting,
                progress::Phase::Uploading => JobPhase::Uploading,
                progress::Phase::Reviewing => JobPhase::Reviewing,
                progress::Phase::Done => JobPhase::Done,
                // A phase added to the core later shows as work in progress.
                _ => JobPhase::Scanning,
            },
            items_done: e.items_done,
            items_total: e.items_total,
            bytes_done: e.bytes_done,
            bytes_total: e.bytes_total,
            message: e.message.clone(),
        }
    }
}

/// A recently opened folder.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RecentFolder {
    pub path: String,
    /// Seconds since the Unix epoch.
    pub opened_at: u64,
    pub files: u64,
    pub bytes: u64,
}

impl From<&recent::RecentFolder> for RecentFolder {
    fn from(f: &recent::RecentFolder) -> Self {
        Self {
            path: path_text(&f.path),
            opened_at: f.opened_at,
            files: f.files,
            bytes: f.bytes,
        }
    }
}

/// Whether buyers may put the work to one use (CAWG training-and-mining terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Allowed,
    NotAllowed,
    /// Allowed under the creator's own conditions (`Consent::constraints`).
    Constrained,
}

impl From<manifest::Permission> for Permission {
    fn from(p: manifest::Permission) -> Self {
        match p {
            manifest::Permission::Allowed => Self::Allowed,
            manifest::Permission::NotAllowed => Self::NotAllowed,
            manifest::Permission::Constrained => Self::Constrained,
        }
    }
}

impl From<Permission> for manifest::Permission {
    fn from(p: Permission) -> Self {
        match p {
            Permission::Allowed => Self::Allowed,
            Permission::NotAllowed => Self::NotAllowed,
            Permission::Constrained => Self::Constrained,
        }
    }
}

/// The creator's terms for the four AI uses of the work, as the manifest states and the credential signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    /// Training AI models on the work.
    pub ai_training: Permission,
    /// Training AI that makes new works in the style of the data.
    pub ai_generative_training: Permission,
    /// An AI model reading the work while it runs (retrieval, grounding).
    pub ai_inference: Permission,
    /// Analysis, search and statistics, without training.
    pub data_mining: Permission,
    /// The creator's conditions, in their own words, for uses allowed with conditions.
    pub constraints: Option<String>,
}

impl From<&manifest::Consent> for Consent {
    fn from(c: &manifest::Consent) -> Self {
        Self {
            ai_training: c.ai_training.into(),
            ai_generative_training: c.ai_generative_training.into(),
            ai_inference: c.ai_inference.into(),
            data_mining: c.data_mining.into(),
            constraints: c.constraints.clone(),
        }
    }
}

impl From<&Consent> for manifest::Consent {
    fn from(c: &Consent) -> Self {
        Self {
            ai_training: c.ai_training.into(),
            ai_generative_training: c.ai_generative_training.into(),
            ai_inference: c.ai_inference.into(),
            data_mining: c.data_mining.into(),
            // Blank conditions are no conditions.
            constraints: c
                .constraints
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        }
    }
}

/// What the creator asks for when sealing a folder.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SealRequest {
    /// The folder of work.
    pub path: String,
    /// The output folder; under the app's data folder when absent.
    pub out: Option<String>,
    pub name: String,
    pub description: Option<String>,
    /// An SPDX license expression.
    pub license: String,
    pub creator: String,
    /// The release's semantic version, such as 1.0.0.
    pub version: String,
    /// The terms for AI uses, each chosen by the creator.
    pub consent: Consent,
    /// Target shard size in bytes.
    pub shard_size: u64,
}

/// What the creator said when the folder was last sealed, to fill the form in again for a reseal.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PreviousSeal {
    /// The output folder holding that seal.
    pub out: String,
    pub name: String,
    pub license: String,
    pub creator: String,
    pub version: String,
    pub consent: Consent,
    pub shard_size: u64,
}

impl PreviousSeal {
    pub fn new(out: &Path, state: &dataset::SealState) -> Self {
        let info = &state.info;
        Self {
            out: path_text(out),
            name: info.name.clone(),
            license: info.license.clone(),
            creator: info.creator_name.clone(),
            version: info.version.clone(),
            consent: Consent::from(&info.consent),
            shard_size: state.options.shard_size,
        }
    }
}

/// Whether a dataset is signed, as the Datasets screen tells the creator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Signature {
    /// `credential.json` is there (a verdict says whether it checks out).
    Signed,
    Unsigned,
    /// A reseal changed the dataset and set its credential aside: sign again.
    SignedForEarlierSeal,
}

impl From<dataset::SignatureState> for Signature {
    fn from(s: dataset::SignatureState) -> Self {
        match s {
            dataset::SignatureState::Signed => Self::Signed,
            dataset::SignatureState::Unsigned => Self::Unsigned,
            dataset::SignatureState::SignedForEarlierSeal => Self::SignedForEarlierSeal,
        }
    }
}

/// One shard of a sealed dataset.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SealedShard {
    pub cid: String,
    pub size: u64,
    pub files: u64,
    pub samples: u64,
}

/// A sealed dataset, as the Datasets screen shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SealedDataset {
    pub root: String,
    /// The output folder holding croissant.json and index.jsonl.
    pub out: String,
    pub files: u64,
    pub bytes: u64,
    pub samples: u64,
    pub shards: Vec<SealedShard>,
    pub files_without_field: u64,
    pub skipped: Vec<SkippedEntry>,
    pub skipped_total: u64,
    /// The exact text of croissant.json.
    pub manifest: String,
    pub manifest_sha256: String,
    pub index_sha256: String,
    /// The dataset's name, as the manifest states it.
    pub name: String,
    /// The SPDX license expression, as the manifest states it.
    pub license: String,
    pub version: String,
    /// The terms for AI uses, as the manifest states them.
    pub consent: Consent,
    /// Whether the dataset is signed after this seal, or its signature was for an earlier seal.
    pub signature: Signature,
    /// The statistics the manifest states (`hallmark:statistics`), when the folder was reviewed.
    pub statistics: Option<DatasetStatistics>,
}

impl SealedDataset {
    /// `manifest` is the exact text of croissant.json and `facts` what it says; `signature` the
    /// dataset's signature state after the seal.
    pub fn new(
        out: &Path,
        sealed: &dataset::Sealed,
        manifest: String,
        facts: &manifest::ManifestFacts,
        signature: dataset::SignatureState,
    ) -> Self {
        let r = &sealed.report;
        Self {
            root: path_text(&r.root),
            out: path_text(out),
            files: r.files,
            bytes: r.bytes,
            samples: r.samples,
            shards: r
                .shards
                .iter()
                .map(|s| SealedShard {
                    cid: s.cid.clone(),
                    size: s.size,
                    files: s.files,
                    samples: s.samples,
                })
                .collect(),
            files_without_field: r.files_without_field,
            skipped: r.skipped.iter().map(SkippedEntry::from).collect(),
            skipped_total: r.skipped_total,
            manifest_sha256: sealed.manifest_sha256.clone(),
            index_sha256: r.index_sha256.clone(),
            name: facts.name.clone(),
            license: facts.license.clone(),
            version: facts.version.clone(),
            consent: Consent::from(&facts.consent),
            signature: signature.into(),
            statistics: manifest_statistics(&manifest),
            manifest,
        }
    }
}

impl SealedDataset {
    /// A seal read back from its output folder by `dataset::describe`.
    pub fn described(out: &Path, d: &dataset::Described) -> Self {
        let sealed = dataset::Sealed {
            report: d.report.clone(),
            manifest_path: out.join(manifest::MANIFEST_FILE),
            index_path: out.join(hallmark_core::seal::INDEX_FILE),
            manifest_sha256: d.state.manifest_sha256.clone(),
            signature: dataset::SignatureAfterSeal::Unsigned,
        };
        Self::new(
            out,
            &sealed,
            String::from_utf8_lossy(&d.manifest).into_owned(),
            &d.facts,
            dataset::signature_state(out),
        )
    }
}

/// A dataset in the creator's list, as it stands now.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DatasetEntry {
    pub out: String,
    pub source: String,
    /// Seconds since the Unix epoch.
    pub sealed_at: u64,
    pub files: u64,
    pub bytes: u64,
    pub samples: u64,
    /// From its manifest; empty when the output folder cannot be read.
    pub name: String,
    pub version: String,
    pub license: String,
    pub signature: Signature,
    /// Why the seal cannot be read (moved, deleted, damaged); `None` when it can.
    pub problem: Option<String>,
}

impl DatasetEntry {
    /// The list's entry, with what its output folder says now.
    pub fn read(e: &hallmark_core::library::LibraryEntry) -> Self {
        let facts = manifest::read_file(&e.out).map(|(_, facts)| facts);
        let (name, version, license, problem) = match facts {
            Ok(f) => (f.name, f.version, f.license, None),
            Err(err) => (
                String::new(),
                String::new(),
                String::new(),
                Some(err.to_string()),
            ),
        };
        Self {
            out: path_text(&e.out),
            source: path_text(&e.source),
            sealed_at: e.sealed_at,
            files: e.files,
            bytes: e.bytes,
            samples: e.samples,
            name,
            version,
            license,
            signature: dataset::signature_state(&e.out).into(),
            problem,
        }
    }
}

/// The statistics a manifest states, if it states them in the shape Hallmark writes.
fn manifest_statistics(manifest: &str) -> Option<DatasetStatistics> {
    let value: serde_json::Value = serde_json::from_str(manifest).ok()?;
    let stated = value.get(manifest::STATISTICS_PROPERTY)?.clone();
    let statistics: hallmark_core::review::Statistics = serde_json::from_value(stated).ok()?;
    Some(DatasetStatistics::from(&statistics))
}

/// What changed in a sealed folder since its seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DatasetChanges {
    pub added: u64,
    pub modified: u64,
    pub removed: u64,
    /// Up to fifty of the changed paths, relative to the folder.
    pub paths: Vec<String>,
}

impl From<&hallmark_core::dataset::Changes> for DatasetChanges {
    fn from(c: &hallmark_core::dataset::Changes) -> Self {
        Self {
            added: c.added,
            modified: c.modified,
            removed: c.removed,
            paths: c.paths.iter().map(|p| path_text(p)).collect(),
        }
    }
}

/// What a new dataset starts from, as Settings shows and saves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StudioDefaults {
    /// Target shard size in bytes.
    pub shard_size: u64,
    /// Gitignore-style patterns of files every dataset leaves out.
    pub excludes: Vec<String>,
}

impl From<&hallmark_core::defaults::Defaults> for StudioDefaults {
    fn from(d: &hallmark_core::defaults::Defaults) -> Self {
        Self {
            shard_size: d.shard_size,
            excludes: d.excludes.clone(),
        }
    }
}

impl From<StudioDefaults> for hallmark_core::defaults::Defaults {
    fn from(d: StudioDefaults) -> Self {
        Self {
            shard_size: d.shard_size,
            excludes: d
                .excludes
                .into_iter()
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }
}

/// A signing identity as the UI shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub did: String,
    pub name: String,
    pub created: String,
    /// The identity that replaced this one, by a rotation statement this one signed.
    pub rotated_to: Option<String>,
    /// When it was replaced.
    pub rotated_at: Option<String>,
    /// The one that signs: the newest not replaced.
    pub current: bool,
}

impl From<&hallmark_core::keys::KeyRecord> for Identity {
    fn from(r: &hallmark_core::keys::KeyRecord) -> Self {
        Self {
            did: r.did.clone(),
            name: r.name.clone(),
            created: r.created.clone(),
            rotated_to: None,
            rotated_at: None,
            current: false,
        }
    }
}

impl Identity {
    /// The identities of `records`, each marked with the rotation away from it (of those in
    /// force), and the one whose did is `current` marked as such.
    pub fn all(
        records: &[hallmark_core::keys::KeyRecord],
        rotations: &[hallmark_core::rotation::Rotation],
        current: Option<&str>,
    ) -> Vec<Identity> {
        records
            .iter()
            .map(|record| {
                let mut identity = Identity::from(record);
                identity.current = current == Some(record.did.as_str());
                if let Some(r) = rotations.iter().find(|r| r.from == record.did) {
                    identity.rotated_to = Some(r.to.clone());
                    identity.rotated_at = Some(r.at.clone());
                }
                identity
            })
            .collect()
    }
}

/// One difference a verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Difference {
    pub path: String,
    pub field: String,
    pub expected: String,
    pub found: String,
}

/// What the Datasets screen says when a reseal set the dataset's signature aside.
pub const SIGN_AGAIN: &str = "Signed for an earlier seal — sign again";

/// A verification's result, with a sentence for the creator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub valid: bool,
    pub signed: bool,
    /// Signed, unsigned, or signed for an earlier seal (the creator should sign again).
    pub signature: Signature,
    pub signer: Option<String>,
    pub files_checked: u64,
    pub differences: Vec<Difference>,
    /// The verdict in plain words.
    pub summary: String,
}

impl From<&hallmark_core::verify::VerifyReport> for Verdict {
    fn from(r: &hallmark_core::verify::VerifyReport) -> Self {
        let differences: Vec<Difference> = r
            .differences
            .iter()
            .map(|d| Difference {
                path: d.path.clone(),
                field: d.field.into(),
                expected: d.expected.clone(),
                found: d.found.clone(),
            })
            .collect();
        let summary = match (r.is_valid(), &r.signer) {
            (true, None) if r.signature == dataset::SignatureState::SignedForEarlierSeal => {
                SIGN_AGAIN.to_owned()
            }
            (true, Some(signer)) => {
                format!("Valid: signed by {signer}, and every file matches what was signed.")
            }
            (true, None) => {
                "Every file matches the seal, but the dataset is not signed yet.".to_owned()
            }
            (false, _) => {
                let n = differences.len();
                let first = differences
                    .first()
                    .map(|d| d.path.as_str())
                    .unwrap_or_default();
                format!(
                    "Not valid: {n} {} from what was sealed, starting with {first}.",
                    if n == 1 { "difference" } else { "differences" }
                )
            }
        };
        Self {
            valid: r.is_valid(),
            signed: r.signed,
            signature: r.signature.into(),
            signer: r.signer.clone(),
            files_checked: r.files_checked,
            differences,
            summary,
        }
    }
}

/// A creator credential the studio keeps, as Settings shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CreatorCredential {
    pub marketplace: String,
    pub holder: String,
    pub name: String,
    pub valid_until: Option<String>,
    /// Why it is not valid now, in words; `None` when valid.
    pub problem: Option<String>,
}

impl From<&hallmark_core::creator::KeptCredential> for CreatorCredential {
    fn from(k: &hallmark_core::creator::KeptCredential) -> Self {
        Self {
            marketplace: k.marketplace.clone(),
            holder: k.holder.clone(),
            name: k.name.clone(),
            valid_until: k.valid_until.clone(),
            problem: k.problem.clone(),
        }
    }
}

/// How much a review finding matters before the data leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FindingSeverity {
    /// Could harm the creator or someone else if it left (a home's position, a client's number).
    High,
    /// Worth a look (names in tags, serial numbers, a file that does not open).
    Medium,
    /// Quality (duplicates, a misleading extension).
    Low,
}

/// What kind of thing a review finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Location,
    SerialNumbers,
    PeopleNames,
    PersonalData,
    Broken,
    WrongExtension,
    Duplicates,
    NearDuplicates,
}

/// The creator's decision on a finding; `open` takes one back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FindingDecision {
    /// Seen, and the files stay in.
    Accepted,
    /// The files (for duplicates, the extra copies) are left out of every seal.
    Excluded,
    /// No decision.
    Open,
}

/// One place personal data was found: the line and a masked excerpt (never the value itself).
#[derive(Debug, Clone, Serialize, TS)]
pub struct FindingOccurrence {
    pub line: u64,
    pub excerpt: String,
}

/// Something the review found, as the Review step shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReviewFinding {
    pub id: String,
    pub kind: FindingKind,
    pub severity: FindingSeverity,
    /// The files concerned (at most [`FINDING_FILES_SHOWN`]); for duplicates the first is kept.
    pub files: Vec<String>,
    pub files_total: u64,
    pub what: String,
    pub advice: String,
    /// For personal data: how many values were found, and the first few masked.
    pub count: Option<u64>,
    pub occurrences: Vec<FindingOccurrence>,
    pub decision: FindingDecision,
}

/// How many files of one finding cross IPC (a group of duplicates can be large).
pub const FINDING_FILES_SHOWN: usize = 50;
/// How many findings cross IPC; the counts cover all of them.
pub const FINDINGS_SHOWN: usize = 2_000;

impl From<&hallmark_core::review::Finding> for ReviewFinding {
    fn from(f: &hallmark_core::review::Finding) -> Self {
        use hallmark_core::review::{Decision, FindingKind as K, Severity as S};
        Self {
            id: f.id.clone(),
            kind: match f.kind {
                K::Location => FindingKind::Location,
                K::SerialNumbers => FindingKind::SerialNumbers,
                K::PeopleNames => FindingKind::PeopleNames,
                K::PersonalData => FindingKind::PersonalData,
                K::Broken => FindingKind::Broken,
                K::WrongExtension => FindingKind::WrongExtension,
                K::Duplicates => FindingKind::Duplicates,
                K::NearDuplicates => FindingKind::NearDuplicates,
            },
            severity: match f.severity {
                S::High => FindingSeverity::High,
                S::Medium => FindingSeverity::Medium,
                S::Low => FindingSeverity::Low,
            },
            files: f
                .files
                .iter()
                .take(FINDING_FILES_SHOWN)
                .map(|file| file.path.clone())
                .collect(),
            files_total: f.files.len() as u64,
            what: f.what.clone(),
            advice: f.advice.clone(),
            count: f.count,
            occurrences: f
                .occurrences
                .iter()
                .map(|o| FindingOccurrence {
                    line: o.line,
                    excerpt: o.excerpt.clone(),
                })
                .collect(),
            decision: match f.decision {
                None => FindingDecision::Open,
                Some(Decision::Accepted) => FindingDecision::Accepted,
                Some(Decision::Excluded) => FindingDecision::Excluded,
            },
        }
    }
}

/// A kind of media in the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Audio,
    Text,
    Document,
    Other,
}

/// Statistics of one media kind: counts and sizes, and what a review measured.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MediaStatistics {
    pub kind: MediaKind,
    pub files: u64,
    pub bytes: u64,
    /// Images: how many decoded, and their smallest and largest width and height in pixels.
    pub images_measured: u64,
    pub min_width: u32,
    pub max_width: u32,
    pub min_height: u32,
    pub max_height: u32,
    /// Audio: how many parsed, their total, shortest and longest durations (ms), sample rates
    /// (Hz) and channel counts.
    pub audio_measured: u64,
    pub total_duration_ms: u64,
    pub min_duration_ms: u64,
    pub max_duration_ms: u64,
    pub sample_rates: Vec<u32>,
    pub channels: Vec<u8>,
    /// Text: how many were read, total characters and lines.
    pub texts_measured: u64,
    pub total_chars: u64,
    pub total_lines: u64,
}

impl From<&hallmark_core::review::statistics::MediaStatistics> for MediaStatistics {
    fn from(m: &hallmark_core::review::statistics::MediaStatistics) -> Self {
        use hallmark_core::review::MediaKind as K;
        let image = m.image.as_ref();
        let audio = m.audio.as_ref();
        let text = m.text.as_ref();
        Self {
            kind: match m.kind {
                K::Image => MediaKind::Image,
                K::Audio => MediaKind::Audio,
                K::Text => MediaKind::Text,
                K::Document => MediaKind::Document,
                K::Other => MediaKind::Other,
            },
            files: m.files,
            bytes: m.bytes,
            images_measured: image.map_or(0, |i| i.measured),
            min_width: image.map_or(0, |i| i.min_width),
            max_width: image.map_or(0, |i| i.max_width),
            min_height: image.map_or(0, |i| i.min_height),
            max_height: image.map_or(0, |i| i.max_height),
            audio_measured: audio.map_or(0, |a| a.measured),
            total_duration_ms: audio.map_or(0, |a| a.total_duration_ms),
            min_duration_ms: audio.map_or(0, |a| a.min_duration_ms),
            max_duration_ms: audio.map_or(0, |a| a.max_duration_ms),
            sample_rates: audio.map(|a| a.sample_rates.clone()).unwrap_or_default(),
            channels: audio.map(|a| a.channels.clone()).unwrap_or_default(),
            texts_measured: text.map_or(0, |t| t.measured),
            total_chars: text.map_or(0, |t| t.total_chars),
            total_lines: text.map_or(0, |t| t.total_lines),
        }
    }
}

/// Statistics of a dataset (or of a review), per media kind.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DatasetStatistics {
    pub files: u64,
    pub bytes: u64,
    /// Files whose content a review measured (the rest are counted, not measured).
    pub reviewed_files: u64,
    pub media: Vec<MediaStatistics>,
}

impl From<&hallmark_core::review::Statistics> for DatasetStatistics {
    fn from(s: &hallmark_core::review::Statistics) -> Self {
        Self {
            files: s.files,
            bytes: s.bytes,
            reviewed_files: s.reviewed_files,
            media: s.media.iter().map(MediaStatistics::from).collect(),
        }
    }
}

/// What a review of a folder found, with the creator's decisions applied.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReviewReport {
    pub root: String,
    /// The output folder the decisions are kept in (the seal's).
    pub out: String,
    pub files: u64,
    pub bytes: u64,
    /// Most severe first, at most [`FINDINGS_SHOWN`].
    pub findings: Vec<ReviewFinding>,
    pub findings_total: u64,
    /// Findings with no decision yet, and of those the high ones (publishing asks about them).
    pub open: u64,
    pub open_high: u64,
    pub statistics: DatasetStatistics,
}

impl ReviewReport {
    pub fn new(
        root: &Path,
        out: &Path,
        files: u64,
        bytes: u64,
        findings: &[hallmark_core::review::Finding],
        statistics: &hallmark_core::review::Statistics,
    ) -> Self {
        use hallmark_core::review::Severity;
        let open = findings.iter().filter(|f| f.is_open());
        Self {
            root: path_text(root),
            out: path_text(out),
            files,
            bytes,
            findings: findings
                .iter()
                .take(FINDINGS_SHOWN)
                .map(ReviewFinding::from)
                .collect(),
            findings_total: findings.len() as u64,
            open: open.clone().count() as u64,
            open_high: open.filter(|f| f.severity == Severity::High).count() as u64,
            statistics: statistics.into(),
        }
    }
}

/// The TypeScript declarations of every IPC type, as committed in `ui/src/lib/bindings.ts`.
pub fn typescript_bindings() -> String {
    use crate::error::{ErrorCode, IpcError};
    // Byte counts stay below 2^53, so JavaScript numbers hold them exactly.
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        FolderSummary::decl(&cfg),
        SkippedEntry::decl(&cfg),
        JobPhase::decl(&cfg),
        JobProgress::decl(&cfg),
        RecentFolder::decl(&cfg),
        Permission::decl(&cfg),
        Consent::decl(&cfg),
        SealRequest::decl(&cfg),
        PreviousSeal::decl(&cfg),
        Signature::decl(&cfg),
        SealedShard::decl(&cfg),
        SealedDataset::decl(&cfg),
        DatasetChanges::decl(&cfg),
        StudioDefaults::decl(&cfg),
        Identity::decl(&cfg),
        Difference::decl(&cfg),
        Verdict::decl(&cfg),
        CreatorCredential::decl(&cfg),
        FindingSeverity::decl(&cfg),
        FindingKind::decl(&cfg),
        FindingDecision::decl(&cfg),
        FindingOccurrence::decl(&cfg),
        ReviewFinding::decl(&cfg),
        MediaKind::decl(&cfg),
        MediaStatistics::decl(&cfg),
        DatasetStatistics::decl(&cfg),
        ReviewReport::decl(&cfg),
        DatasetEntry::decl(&cfg),
        Marketplace::decl(&cfg),
        PinState::decl(&cfg),
        MarketplaceCheck::decl(&cfg),
        PublishRequest::decl(&cfg),
        PublishResult::decl(&cfg),
        InterruptedPublish::decl(&cfg),
        EarningsStep::decl(&cfg),
        CurrencyTotal::decl(&cfg),
        EarningsLine::decl(&cfg),
        StatementCheck::decl(&cfg),
        EarningsFinding::decl(&cfg),
        EarningsView::decl(&cfg),
        ErrorCode::decl(&cfg),
        IpcError::decl(&cfg),
    ];
    let mut out = String::from(
        "// IPC types of the Hallmark app, generated from src-tauri/src/dto.rs and error.rs by ts-rs.\n\
         // Do not edit: run `HALLMARK_UPDATE_BINDINGS=1 cargo test -p hallmark-app bindings`.\n",
    );
    for decl in decls {
        out.push_str("\nexport ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_match_the_committed_typescript() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
        let generated = typescript_bindings();
        if std::env::var_os("HALLMARK_UPDATE_BINDINGS").is_some() {
            std::fs::write(&file, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == generated,
            "ui/src/lib/bindings.ts is out of date with the Rust IPC types; \
             run `HALLMARK_UPDATE_BINDINGS=1 cargo test -p hallmark-app bindings` and commit the result"
        );
    }
}
