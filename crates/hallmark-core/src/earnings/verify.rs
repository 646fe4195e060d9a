//! Checking a creator's statements without trusting the marketplace: signatures, the log, the
//! chain, the sums and the prices, each failure kept as a [`Finding`] with its evidence.
//!
//! [`verify`] takes everything a studio stored (statements and receipts as exact bytes, the
//! checkpoints it saw, consistency proofs, tiles) and what the creator published, and returns the
//! verified tallies next to the findings. Nothing it is given is trusted: a receipt counts only
//! when it parses, is the creator's, names a shard of one of their published versions at the
//! published price, is in the log at its statement's checkpoint, is counted once, and its
//! statement is signed by the pinned marketplace and chained to the one before. Whatever fails
//! is excluded from the verified totals and named in a finding, with the amount it affects.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rayon::prelude::*;
use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::receipt::{Checked, Receipt};
use super::statement::{self, Period, StatementClaims, Tallied, Tallies, Total, tally};
use crate::did::PublicIdentity;
use crate::digest::Sha256Digest;
use crate::tlog::{self, Checkpoint, Hash, TileStore};

/// A version the creator published: what each of its receipts must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedVersion {
    /// The marketplace's version id.
    pub version: String,
    /// The price per sample the creator published it at.
    pub price: Decimal,
    /// ISO 4217.
    pub currency: String,
    /// The CIDs of its shards.
    pub shards: BTreeSet<String>,
}

/// A statement as stored: the marketplace's id for it and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStatement {
    pub id: String,
    pub bytes: Vec<u8>,
}

/// A receipt as stored: its log index and its exact (JCS) bytes (a slice of the page it was
/// stored in, shared, not copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    pub index: u64,
    pub bytes: bytes::Bytes,
}

/// What a studio holds, to verify.
pub struct Evidence<'a> {
    /// The marketplace key pinned when the creator joined.
    pub marketplace: &'a PublicIdentity,
    /// The log's origin (the checkpoint's first line and key name).
    pub log_origin: &'a str,
    /// The creator's did:key.
    pub creator: &'a str,
    pub versions: &'a [PublishedVersion],
    /// Statements in the order the marketplace numbered them.
    pub statements: &'a [StoredStatement],
    /// Receipts, any order.
    pub receipts: &'a [StoredReceipt],
    /// Checkpoints seen apart from statements' (the latest fetched), signed notes, in order seen.
    pub checkpoints: &'a [String],
    /// Consistency proofs by (older size, newer size).
    pub consistency: &'a BTreeMap<(u64, u64), Vec<Hash>>,
    /// The log's tiles.
    pub tiles: &'a dyn TileStore,
    /// RFC 3339: statement proofs made later than this are refused.
    pub now: &'a str,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FindingKind {
    /// A statement that is not signed by the pinned marketplace, or not a statement at all.
    StatementSignature,
    /// A statement whose sequence is not the one after the previous statement's (one removed).
    StatementSequence,
    /// A statement whose `previousStatement` is not the SHA-256 of the previous statement's bytes.
    StatementChain,
    /// A statement for another creator.
    StatementCreator,
    /// A statement's checkpoint that is not a checkpoint of the log signed by the marketplace.
    CheckpointSignature,
    /// Two checkpoints of the same size with different roots: the log forked.
    LogForked,
    /// The log's head, fetched, is a smaller tree than a head fetched before it: the log went back.
    LogShrank,
    /// A newer checkpoint without a valid consistency proof from the larger one seen before.
    LogInconsistent,
    /// A receipt that does not parse or whose arithmetic is wrong.
    ReceiptMalformed,
    /// A receipt for another creator or marketplace.
    ReceiptNotYours,
    /// A receipt whose version, shard, price or currency is not what the creator published.
    ReceiptNotPublished,
    /// A receipt whose commitment is not the log's entry at its index (changed after the fact).
    ReceiptNotInLog,
    /// The log's tiles needed to check inclusion are missing or do not hash to the checkpoint.
    ProofMissing,
    /// A statement lists a receipt the marketplace did not hand over.
    ReceiptMissing,
    /// A receipt counted by two statements, or the same receipt at two log indexes.
    ReceiptCountedTwice,
    /// Stated totals that are not the sum of the statement's receipts.
    TotalsDiffer,
}

/// One failed check, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub kind: FindingKind,
    /// The statement's id and sequence, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// The receipt's log index, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<u64>,
    /// The field or check that failed.
    pub field: String,
    pub expected: String,
    pub found: String,
    /// The creator-share amount left out of the verified totals because of it, per currency.
    pub excluded: BTreeMap<String, String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.kind)?;
        if let (Some(id), Some(sequence)) = (&self.statement, self.sequence) {
            write!(f, " in statement {sequence} ({id})")?;
        }
        if let Some(index) = self.receipt {
            write!(f, ", receipt at log index {index}")?;
        }
        write!(
            f,
            ": {}: expected {}, found {}",
            self.field, self.expected, self.found
        )?;
        if !self.excluded.is_empty() {
            let amounts: Vec<String> = self
                .excluded
                .iter()
                .map(|(currency, amount)| format!("{amount} {currency}"))
                .collect();
            write!(f, " (excluded: {})", amounts.join(", "))?;
        }
        Ok(())
    }
}

/// Where a receipt stands after verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiptStatus {
    /// Counted by a verified statement.
    Statemented,
    /// Not in a statement yet (open period), checked on its own and in the log.
    Estimated,
    /// Not in a statement yet and not in the latest checkpoint seen: not checkable yet.
    Pending,
    /// Left out of every total: see the findings.
    Excluded,
}

/// What many receipts share: the shard of a version of a dataset they bought, and the currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Asset {
    pub dataset: String,
    pub version: String,
    pub shard: String,
    /// ISO 4217.
    pub currency: String,
}

/// What the summaries need of a receipt that is well formed: one access, with the strings it
/// shares with other receipts held once (in its [`Asset`]) and its tokens as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The receipt's id: `r_` and these 32 hex digits.
    pub id: u128,
    /// When the bytes were delivered, UTC.
    pub time: OffsetDateTime,
    pub asset: Arc<Asset>,
    /// The buyer's pseudonym: `b_` and these 32 hex digits.
    pub buyer: u128,
    pub samples: u64,
    /// What the buyer paid, exact.
    pub amount: Decimal,
    /// The creator's part, exact.
    pub creator_share: Decimal,
}

impl Access {
    /// The receipt's id as written, `r_` and 32 hex digits.
    pub fn receipt_id(&self) -> String {
        format!("r_{:032x}", self.id)
    }
}

impl Tallied for Access {
    fn names(&self) -> (&str, &str, &str, &str) {
        let asset = &*self.asset;
        (
            &asset.dataset,
            &asset.version,
            &asset.shard,
            &asset.currency,
        )
    }
    fn samples(&self) -> u64 {
        self.samples
    }
    fn amount(&self) -> Decimal {
        self.amount
    }
    fn creator_share(&self) -> Decimal {
        self.creator_share
    }
}

/// One receipt, parsed, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptOutcome {
    pub index: u64,
    pub access: Access,
    /// The statement (id) that counts it.
    pub statement: Option<Arc<str>>,
    pub status: ReceiptStatus,
}

/// One statement, opened, with what was verified of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementOutcome {
    pub id: String,
    pub sequence: u64,
    pub period: Period,
    /// SHA-256 (hex) of the statement's exact bytes.
    pub sha256: String,
    /// The anchored checkpoint's tree size.
    pub checkpoint_size: u64,
    /// What the statement states per currency.
    pub stated: Vec<Total>,
    /// The totals of its receipts that verified.
    pub verified: Vec<Total>,
    /// How many findings name it.
    pub findings: usize,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Receipts by log index.
    pub receipts: Vec<ReceiptOutcome>,
    /// Statements that opened (a signature that fails leaves only a finding), by sequence.
    pub statements: Vec<StatementOutcome>,
    pub findings: Vec<Finding>,
    /// Verified receipts counted by statements.
    pub statemented: Tallies,
    /// Verified receipts not in a statement yet.
    pub estimated: Tallies,
    /// The largest checkpoint seen, opened.
    pub latest: Option<Checkpoint>,
}

impl Verification {
    /// The receipts with `status`.
    pub fn with_status(&self, status: ReceiptStatus) -> impl Iterator<Item = &ReceiptOutcome> {
        self.receipts.iter().filter(move |r| r.status == status)
    }
}

/// A receipt read from its bytes, with its leaf hash.
struct Parsed {
    index: u64,
    access: Access,
    leaf: Hash,
    /// Left out of every total (by the checks of the receipt alone).
    excluded: bool,
    /// Why, when it is not the creator's or not of what they published (boxed: rare).
    refused: Option<Box<Failed>>,
}

/// A receipt that does not read: its log index and why (boxed: rare).
struct Malformed {
    index: u64,
    error: Box<str>,
}

/// The position in `parsed` (sorted by log index) of the receipt at log index `index`.
fn position(parsed: &[Parsed], index: u64) -> Option<usize> {
    parsed.binary_search_by_key(&index, |p| p.index).ok()
}

/// Positions in `parsed` looked up in mostly ascending order (as statements list receipts):
/// the one after the last found is tried before a search.
struct Cursor {
    next: usize,
}

impl Cursor {
    fn find(&mut self, parsed: &[Parsed], index: u64) -> Option<usize> {
        let found = match parsed.get(self.next) {
            Some(p) if p.index == index => Some(self.next),
            _ => position(parsed, index),
        }?;
        self.next = found + 1;
        Some(found)
    }
}

/// A check of a receipt on its own that failed: kind, field, expected, found.
type Failed = (FindingKind, &'static str, String, String);

/// What the receipts are checked against, shared by the threads that read them.
struct Expected<'e> {
    creator: &'e str,
    market: &'e str,
    versions: HashMap<&'e str, &'e PublishedVersion>,
}

impl Expected<'_> {
    /// Why `receipt` is not the creator's, or not of what they published, if it is not.
    fn refuse<S: AsRef<str>>(&self, receipt: &Receipt<S>) -> Option<Failed> {
        let text = |s: &S| s.as_ref().to_owned();
        if receipt.creator.as_ref() != self.creator {
            return Some((
                FindingKind::ReceiptNotYours,
                "creator",
                self.creator.into(),
                text(&receipt.creator),
            ));
        }
        if receipt.marketplace.as_ref() != self.market {
            return Some((
                FindingKind::ReceiptNotYours,
                "marketplace",
                self.market.into(),
                text(&receipt.marketplace),
            ));
        }
        let unpublished = FindingKind::ReceiptNotPublished;
        let Some(v) = self.versions.get(receipt.version.as_ref()) else {
            return Some((
                unpublished,
                "version",
                "a version you published".into(),
                text(&receipt.version),
            ));
        };
        if !v.shards.contains(receipt.shard.as_ref()) {
            let expected = format!("a shard of version {}", v.version);
            return Some((unpublished, "shard", expected, text(&receipt.shard)));
        }
        if v.price != receipt.price {
            let (expected, found) = (v.price.to_string(), receipt.price.to_string());
            return Some((unpublished, "price", expected, found));
        }
        if v.currency != receipt.currency.as_ref() {
            let expected = v.currency.clone();
            return Some((unpublished, "currency", expected, text(&receipt.currency)));
        }
        None
    }
}

/// The assets met so far by one parallel task, so that receipts of the same one share it.
type Assets<'e> = HashMap<(&'e str, &'e str, &'e str, &'e str), Arc<Asset>>;

/// The asset `receipt` names, shared with the receipts before it that name the same.
fn asset_of<'e>(receipt: &Receipt<&'e str>, assets: &mut Assets<'e>) -> Arc<Asset> {
    let key = (
        receipt.dataset,
        receipt.version,
        receipt.shard,
        receipt.currency,
    );
    assets
        .entry(key)
        .or_insert_with(|| {
            Arc::new(Asset {
                dataset: key.0.into(),
                version: key.1.into(),
                shard: key.2.into(),
                currency: key.3.into(),
            })
        })
        .clone()
}

/// The access a well-formed receipt records, with what its checks read.
fn access_of<S>(receipt: &Receipt<S>, checked: Checked, asset: Arc<Asset>) -> Access {
    Access {
        id: checked.id,
        time: checked.time.utc(),
        asset,
        buyer: checked.buyer,
        samples: receipt.samples,
        amount: receipt.amount,
        creator_share: receipt.creator_share,
    }
}

/// Reads, checks and hashes one stored receipt: the access it records and, if it is not the
/// creator's or not of what they published, why; or why it is malformed.
fn read<'e>(
    stored: &'e StoredReceipt,
    expected: &Expected<'_>,
    assets: &mut Assets<'e>,
) -> Result<Parsed, Malformed> {
    let malformed = |error: String| Malformed {
        index: stored.index,
        error: error.into_boxed_str(),
    };
    let (access, refused) = match Receipt::borrowed(&stored.bytes) {
        Some(Ok((receipt, checked))) => {
            let asset = asset_of(&receipt, assets);
            (
                access_of(&receipt, checked, asset),
                expected.refuse(&receipt),
            )
        }
        Some(Err(error)) => return Err(malformed(error.to_string())),
        // Strings with escapes: read into owned strings, not shared with other receipts.
        None => {
            let receipt =
                Receipt::from_json(&stored.bytes).map_err(|e| malformed(e.to_string()))?;
            let checked = receipt.checked().map_err(|e| malformed(e.to_string()))?;
            let asset = Arc::new(Asset {
                dataset: receipt.dataset.clone(),
                version: receipt.version.clone(),
                shard: receipt.shard.clone(),
                currency: receipt.currency.clone(),
            });
            (
                access_of(&receipt, checked, asset),
                expected.refuse(&receipt),
            )
        }
    };
    Ok(Parsed {
        index: stored.index,
        access,
        leaf: tlog::leaf_hash(&Sha256Digest::of(&stored.bytes).0),
        excluded: refused.is_some(),
        refused: refused.map(Box::new),
    })
}

impl std::fmt::Debug for Evidence<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evidence")
            .field("marketplace", &self.marketplace.to_string())
            .field("log_origin", &self.log_origin)
            .field("statements", &self.statements.len())
            .field("receipts", &self.receipts.len())
            .field("checkpoints", &self.checkpoints.len())
            .finish_non_exhaustive()
    }
}

/// A finding under construction.
struct Report {
    findings: Vec<Finding>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        kind: FindingKind,
        statement: Option<(&str, u64)>,
        receipt: Option<u64>,
        field: &str,
        expected: impl Into<String>,
        found: impl Into<String>,
        excluded: &[&Access],
    ) {
        let mut amounts: BTreeMap<&str, Decimal> = BTreeMap::new();
        for access in excluded {
            *amounts.entry(&access.asset.currency).or_default() += access.creator_share;
        }
        self.findings.push(Finding {
            kind,
            statement: statement.map(|(id, _)| id.to_owned()),
            sequence: statement.map(|(_, sequence)| sequence),
            receipt,
            field: field.to_owned(),
            expected: expected.into(),
            found: found.into(),
            excluded: amounts
                .into_iter()
                .map(|(currency, amount)| (currency.to_owned(), amount.normalize().to_string()))
                .collect(),
        });
    }
}

/// The log's checkpoints (statements' anchors and the heads fetched), checked against each other
/// whatever order they were seen in: one root per size (else the log forked), and each tree a
/// prefix of the next larger one (consistency proofs between consecutive sizes).
struct History {
    /// The first root seen for each size.
    by_size: BTreeMap<u64, Hash>,
    /// Sizes whose checkpoint contradicts a smaller one, with the finding.
    bad: HashMap<u64, (FindingKind, String, String, String)>,
    /// The largest checkpoint consistent with every smaller one.
    largest: Option<Checkpoint>,
}

impl History {
    fn new(checkpoints: &[Checkpoint], consistency: &BTreeMap<(u64, u64), Vec<Hash>>) -> History {
        let mut first: BTreeMap<u64, &Checkpoint> = BTreeMap::new();
        for checkpoint in checkpoints {
            first.entry(checkpoint.size).or_insert(checkpoint);
        }
        let mut bad = HashMap::new();
        let mut good: Option<&Checkpoint> = None;
        for (&size, &checkpoint) in &first {
            let Some(old) = good else {
                good = Some(checkpoint);
                continue;
            };
            let pair = (old.size, size);
            let checked = consistency.get(&pair).map(|proof| {
                tlog::check_consistency(proof, old.size, &old.root, size, &checkpoint.root)
            });
            let (expected, found) = match checked {
                Some(Ok(())) => {
                    good = Some(checkpoint);
                    continue;
                }
                Some(Err(e)) => (
                    "a proof that the older tree is a prefix of the newer".to_owned(),
                    e.to_string(),
                ),
                None => (
                    "a proof fetched from the marketplace".to_owned(),
                    "none stored; fetch again".to_owned(),
                ),
            };
            bad.insert(
                size,
                (
                    FindingKind::LogInconsistent,
                    format!("consistency proof {} → {}", pair.0, pair.1),
                    expected,
                    found,
                ),
            );
        }
        History {
            largest: good.cloned(),
            by_size: first.into_iter().map(|(size, c)| (size, c.root)).collect(),
            bad,
        }
    }

    /// The finding (kind, field, expected, found) if `checkpoint` contradicts the log.
    fn see(&self, checkpoint: &Checkpoint) -> Option<(FindingKind, String, String, String)> {
        match self.by_size.get(&checkpoint.size) {
            Some(root) if *root != checkpoint.root => Some((
                FindingKind::LogForked,
                "checkpoint root".into(),
                format!("{} (seen before at size {})", b64(root), checkpoint.size),
                b64(&checkpoint.root),
            )),
            _ => self.bad.get(&checkpoint.size).cloned(),
        }
    }
}

fn b64(hash: &Hash) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(hash)
}

/// Verifies everything in `evidence`; see the module's documentation.
pub fn verify(evidence: &Evidence<'_>) -> Verification {
    let mut report = Report {
        findings: Vec::new(),
    };
    let market = evidence.marketplace.to_string();

    // Receipts: read, checked on their own and against what the creator published, and hashed,
    // in parallel; each thread shares the assets it meets between its receipts.
    let expected = Expected {
        creator: evidence.creator,
        market: &market,
        versions: evidence
            .versions
            .iter()
            .map(|v| (v.version.as_str(), v))
            .collect(),
    };
    let mut results: Vec<Result<Parsed, Malformed>> = Vec::new();
    evidence
        .receipts
        .par_iter()
        .map_init(Assets::new, |assets, stored| {
            read(stored, &expected, assets)
        })
        .collect_into_vec(&mut results);
    // Collected in place (a million receipts are not moved into a second vector).
    let mut malformed: Vec<u64> = Vec::new();
    let mut parsed: Vec<Parsed> = results
        .into_iter()
        .filter_map(|result| match result {
            Ok(mut item) => {
                if let Some(refused) = item.refused.take() {
                    let (kind, field, expected, found) = *refused;
                    let at = Some(item.index);
                    report.add(kind, None, at, field, expected, found, &[&item.access]);
                }
                Some(item)
            }
            Err(Malformed { index, error }) => {
                malformed.push(index);
                report.add(
                    FindingKind::ReceiptMalformed,
                    None,
                    Some(index),
                    "receipt",
                    "a well-formed receipt",
                    error,
                    &[],
                );
                None
            }
        })
        .collect();
    malformed.sort_unstable();
    // One receipt per log index: the store reads them in ascending order, the only order in
    // which none can repeat; any other is sorted (the first stored stays first) and a receipt
    // at an index already taken is left out, with the first.
    if !parsed.windows(2).all(|pair| pair[0].index < pair[1].index) {
        parsed.sort_by_key(|p| p.index);
        let mut kept: Vec<Parsed> = Vec::with_capacity(parsed.len());
        for item in parsed {
            match kept.last_mut() {
                Some(first) if first.index == item.index => {
                    report.add(
                        FindingKind::ReceiptCountedTwice,
                        None,
                        Some(item.index),
                        "log index",
                        "one receipt per log index",
                        "two receipts stored",
                        &[&item.access],
                    );
                    first.excluded = true;
                }
                _ => kept.push(item),
            }
        }
        parsed = kept;
    }
    // One log index per receipt id: ids sorted, the lowest index of each kept.
    let mut ids: Vec<(u128, usize)> = parsed
        .iter()
        .enumerate()
        .map(|(n, p)| (p.access.id, n))
        .collect();
    ids.par_sort_unstable();
    let mut first_of_id: Option<(u128, usize)> = None;
    for &(id, n) in &ids {
        let first = match first_of_id {
            Some((first_id, first)) if first_id == id => first,
            _ => {
                first_of_id = Some((id, n));
                continue;
            }
        };
        let (first, repeat) = (&parsed[first], &parsed[n]);
        report.add(
            FindingKind::ReceiptCountedTwice,
            None,
            Some(repeat.index),
            "receipt id",
            format!(
                "{} only at log index {}",
                repeat.access.receipt_id(),
                first.index
            ),
            format!("also at log index {}", repeat.index),
            &[&repeat.access],
        );
        parsed[n].excluded = true;
    }
    drop(ids);
    // By position in `parsed`: left out of every total, and the statement (position in
    // `evidence.statements`) that counts it.
    let mut excluded: Vec<bool> = parsed.iter().map(|p| p.excluded).collect();
    let mut counted_by: Vec<Option<usize>> = vec![None; parsed.len()];

    // Statements, in order: signature, chain, checkpoint, log history, inclusion, totals.
    // Every checkpoint, anchors first (in statement order), then the heads fetched.
    // Each statement opened once (signature checked over its JCS bytes), in parallel.
    let opened: Vec<Result<StatementClaims, String>> = evidence
        .statements
        .par_iter()
        .map(|stored| {
            statement::open(&stored.bytes, evidence.marketplace, evidence.now)
                .map_err(|e| e.to_string())
        })
        .collect();
    let anchors = opened.iter().filter_map(|claims| {
        tlog::open_checkpoint(
            &claims.as_ref().ok()?.checkpoint,
            evidence.log_origin,
            evidence.marketplace,
        )
        .ok()
    });
    let heads: Vec<Checkpoint> = evidence
        .checkpoints
        .iter()
        .filter_map(|note| {
            tlog::open_checkpoint(note, evidence.log_origin, evidence.marketplace).ok()
        })
        .collect();
    let every: Vec<Checkpoint> = anchors.chain(heads.iter().cloned()).collect();
    let history = History::new(&every, evidence.consistency);
    let mut outcomes = Vec::new();
    let mut previous: Option<(u64, String)> = None;
    for (number, stored) in evidence.statements.iter().enumerate() {
        let sha256 = Sha256Digest::of(&stored.bytes).hex();
        let claims = match &opened[number] {
            Ok(claims) => claims,
            Err(error) => {
                report.add(
                    FindingKind::StatementSignature,
                    Some((&stored.id, 0)),
                    None,
                    "proof",
                    format!("signed by {market}"),
                    error.to_string(),
                    &[],
                );
                // Its receipts are not known from a statement that does not open; those still
                // unstated are estimated below, never counted as statemented.
                previous = previous.map(|(sequence, _)| (sequence + 1, sha256));
                continue;
            }
        };
        let at = Some((stored.id.as_str(), claims.sequence));
        let before = report.findings.len();
        let mut whole_statement_bad = false;
        let mut fail = |report: &mut Report, kind, field: &str, expected: String, found: String| {
            let mut cursor = Cursor { next: 0 };
            let members: Vec<&Access> = claims
                .receipts
                .iter()
                .filter_map(|&index| cursor.find(&parsed, index).map(|p| &parsed[p].access))
                .collect();
            report.add(kind, at, None, field, expected, found, &members);
            whole_statement_bad = true;
        };
        if claims.id != evidence.creator {
            fail(
                &mut report,
                FindingKind::StatementCreator,
                "credentialSubject.id",
                evidence.creator.into(),
                claims.id.clone(),
            );
        }
        let (expected_sequence, expected_previous) = match &previous {
            None => (1, None),
            Some((sequence, hash)) => (sequence + 1, Some(hash.clone())),
        };
        if claims.sequence != expected_sequence {
            fail(
                &mut report,
                FindingKind::StatementSequence,
                "sequence",
                expected_sequence.to_string(),
                claims.sequence.to_string(),
            );
        }
        if claims.previous_statement != expected_previous {
            fail(
                &mut report,
                FindingKind::StatementChain,
                "previousStatement",
                expected_previous.unwrap_or_else(|| "none (the first statement)".into()),
                claims
                    .previous_statement
                    .clone()
                    .unwrap_or_else(|| "none".into()),
            );
        }
        previous = Some((claims.sequence, sha256.clone()));
        let checkpoint = match tlog::open_checkpoint(
            &claims.checkpoint,
            evidence.log_origin,
            evidence.marketplace,
        ) {
            Ok(checkpoint) => Some(checkpoint),
            Err(error) => {
                fail(
                    &mut report,
                    FindingKind::CheckpointSignature,
                    "checkpoint",
                    format!("a checkpoint of {} signed by {market}", evidence.log_origin),
                    error.to_string(),
                );
                None
            }
        };
        if let Some(checkpoint) = &checkpoint
            && let Some((kind, field, expected, found)) = history.see(checkpoint)
        {
            fail(&mut report, kind, &field, expected, found);
        }
        // Receipts it counts: held, not counted before, in the log at its checkpoint.
        let mut entries = Vec::with_capacity(claims.receipts.len());
        let mut own: Vec<usize> = Vec::with_capacity(claims.receipts.len());
        let mut cursor = Cursor { next: 0 };
        for &index in &claims.receipts {
            let Some(at_position) = cursor.find(&parsed, index) else {
                // A receipt handed over that does not read has its own finding already.
                if malformed.binary_search(&index).is_ok() {
                    continue;
                }
                report.add(
                    FindingKind::ReceiptMissing,
                    at,
                    Some(index),
                    "receipts",
                    "the receipt at this log index, from the marketplace",
                    "none handed over",
                    &[],
                );
                continue;
            };
            let item = &parsed[at_position];
            if let Some(first) = counted_by[at_position] {
                let first = &evidence.statements[first].id;
                report.add(
                    FindingKind::ReceiptCountedTwice,
                    at,
                    Some(index),
                    "receipts",
                    format!("counted once, by statement {first}"),
                    format!("counted again by {}", stored.id),
                    &[&item.access],
                );
                continue;
            }
            counted_by[at_position] = Some(number);
            entries.push((index, item.leaf));
            own.push(at_position);
        }
        if let Some(checkpoint) = &checkpoint {
            match tlog::check_inclusions(
                &evidence.tiles,
                checkpoint.size,
                &checkpoint.root,
                &entries,
            ) {
                Ok(differ) => not_in_log(&mut report, at, &differ, &parsed, &mut excluded),
                Err(error) => {
                    fail(
                        &mut report,
                        FindingKind::ProofMissing,
                        "inclusion",
                        format!("the tiles of the tree of {} entries", checkpoint.size),
                        error.to_string(),
                    );
                }
            }
        }
        // Totals: what it states against the sum of the receipts it lists, as held.
        let recomputed = tally(own.iter().map(|&p| &parsed[p].access));
        if let Ok(recomputed) = &recomputed {
            let levels = [
                ("totals", &claims.totals, &recomputed.totals),
                ("datasets", &claims.datasets, &recomputed.datasets),
                ("versions", &claims.versions, &recomputed.versions),
                ("shards", &claims.shards, &recomputed.shards),
            ];
            for (name, stated, sums) in levels {
                differences(&mut report, at, name, stated, sums);
            }
        }
        if claims.rounding_rule != super::money::ROUNDING_RULE {
            report.add(
                FindingKind::TotalsDiffer,
                at,
                None,
                "roundingRule",
                super::money::ROUNDING_RULE,
                claims.rounding_rule.clone(),
                &[],
            );
        }
        if whole_statement_bad {
            for &p in &own {
                excluded[p] = true;
            }
        }
        let verified: Vec<&Access> = own
            .iter()
            .filter(|&&p| !excluded[p])
            .map(|&p| &parsed[p].access)
            .collect();
        // All of them verified: their totals are the ones just recomputed.
        let verified = match recomputed {
            Ok(all) if verified.len() == own.len() => all.totals,
            _ => tally(verified).map(|t| t.totals).unwrap_or_default(),
        };
        outcomes.push(StatementOutcome {
            id: stored.id.clone(),
            sequence: claims.sequence,
            period: claims.period.clone(),
            sha256,
            checkpoint_size: checkpoint.as_ref().map_or(0, |c| c.size),
            stated: claims.totals.clone(),
            verified,
            findings: report.findings.len() - before,
        });
    }

    // The heads fetched (the log's latest, in the order fetched): each must be consistent with
    // every other checkpoint, and none smaller than one fetched before it (the log went back).
    let mut largest_head: u64 = 0;
    for note in evidence.checkpoints {
        match tlog::open_checkpoint(note, evidence.log_origin, evidence.marketplace) {
            Ok(checkpoint) => {
                if checkpoint.size < largest_head {
                    report.add(
                        FindingKind::LogShrank,
                        None,
                        None,
                        "checkpoint size",
                        format!("at least {largest_head} (fetched before)"),
                        checkpoint.size.to_string(),
                        &[],
                    );
                } else if let Some((kind, field, expected, found)) = history.see(&checkpoint) {
                    report.add(kind, None, None, &field, expected, found, &[]);
                }
                largest_head = largest_head.max(checkpoint.size);
            }
            Err(error) => report.add(
                FindingKind::CheckpointSignature,
                None,
                None,
                "checkpoint",
                format!("a checkpoint of {} signed by {market}", evidence.log_origin),
                error.to_string(),
                &[],
            ),
        }
    }
    let latest = history.largest.clone();
    let open: Vec<(u64, Hash)> = parsed
        .iter()
        .enumerate()
        .filter(|&(n, _)| counted_by[n].is_none() && !excluded[n])
        .map(|(_, p)| p)
        .filter(|p| latest.as_ref().is_some_and(|l| p.index < l.size))
        .map(|p| (p.index, p.leaf))
        .collect();
    if let Some(latest) = &latest {
        match tlog::check_inclusions(&evidence.tiles, latest.size, &latest.root, &open) {
            Ok(differ) => not_in_log(&mut report, None, &differ, &parsed, &mut excluded),
            Err(error) if !open.is_empty() => {
                report.add(
                    FindingKind::ProofMissing,
                    None,
                    None,
                    "inclusion",
                    format!("the tiles of the tree of {} entries", latest.size),
                    error.to_string(),
                    &open
                        .iter()
                        .filter_map(|&(i, _)| position(&parsed, i).map(|p| &parsed[p].access))
                        .collect::<Vec<_>>(),
                );
                for &(i, _) in &open {
                    if let Some(p) = position(&parsed, i) {
                        excluded[p] = true;
                    }
                }
            }
            Err(_) => {}
        }
    }

    let statement_ids: Vec<Arc<str>> = evidence
        .statements
        .iter()
        .map(|s| Arc::from(s.id.as_str()))
        .collect();
    let receipts: Vec<ReceiptOutcome> = parsed
        .into_iter()
        .zip(excluded.into_iter().zip(counted_by))
        .map(|(p, (excluded, counted_by))| {
            let statement = counted_by.map(|n| statement_ids[n].clone());
            let status = if excluded {
                ReceiptStatus::Excluded
            } else if statement.is_some() {
                ReceiptStatus::Statemented
            } else if latest.as_ref().is_some_and(|l| p.index < l.size) {
                ReceiptStatus::Estimated
            } else {
                ReceiptStatus::Pending
            };
            ReceiptOutcome {
                index: p.index,
                access: p.access,
                statement,
                status,
            }
        })
        .collect();
    let sum = |status| {
        tally(
            receipts
                .iter()
                .filter(|r| r.status == status)
                .map(|r| &r.access),
        )
        .unwrap_or_default()
    };
    Verification {
        statemented: sum(ReceiptStatus::Statemented),
        estimated: sum(ReceiptStatus::Estimated),
        receipts,
        statements: outcomes,
        findings: report.findings,
        latest,
    }
}

/// A finding for each receipt (log index in `differ`) whose commitment is not the log's entry,
/// which is then excluded.
fn not_in_log(
    report: &mut Report,
    at: Option<(&str, u64)>,
    differ: &[u64],
    parsed: &[Parsed],
    excluded: &mut [bool],
) {
    for &index in differ {
        let Some(p) = position(parsed, index) else {
            continue;
        };
        report.add(
            FindingKind::ReceiptNotInLog,
            at,
            Some(index),
            "commitment",
            "the log's entry at this index",
            "another commitment (the receipt was changed after it was logged)",
            &[&parsed[p].access],
        );
        excluded[p] = true;
    }
}

/// A finding for each line of `stated` that is not the sum in `sums` (matched by its keys).
fn differences(
    report: &mut Report,
    at: Option<(&str, u64)>,
    level: &str,
    stated: &[Total],
    sums: &[Total],
) {
    let keyed = |lines: &[Total]| -> BTreeMap<String, Total> {
        lines
            .iter()
            .map(|t| {
                let name = [&t.dataset, &t.version, &t.shard]
                    .iter()
                    .filter_map(|part| part.as_deref())
                    .chain([t.currency.as_str()])
                    .collect::<Vec<_>>()
                    .join("/");
                (name, t.clone())
            })
            .collect()
    };
    let stated = keyed(stated);
    let sums = keyed(sums);
    let names: BTreeSet<&String> = stated.keys().chain(sums.keys()).collect();
    for name in names {
        let show = |line: Option<&Total>| match line {
            None => "no line".to_owned(),
            Some(t) => format!(
                "{} receipts, {} samples, gross {}, share {}{}",
                t.receipts,
                t.samples,
                t.gross,
                t.creator_share,
                t.payable
                    .map(|p| format!(", payable {p}"))
                    .unwrap_or_default()
            ),
        };
        let (s, r) = (stated.get(name), sums.get(name));
        if s != r {
            report.add(
                FindingKind::TotalsDiffer,
                at,
                None,
                &format!("{level}[{name}]"),
                show(r),
                show(s),
                &[],
            );
        }
    }
}
