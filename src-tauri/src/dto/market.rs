//! The marketplace types that cross IPC: marketplaces joined, publishing, verified totals, series, tables,
//! statements with their checks, and findings in plain words. Amounts are exact decimal strings.

use std::collections::BTreeMap;

use hallmark_client::earnings::Stored;
use hallmark_client::joined::Joined;
use hallmark_core::earnings::Verification;
use hallmark_core::earnings::summary::{self, By, Line};
use hallmark_core::earnings::verify::{Finding, FindingKind};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A marketplace the creator joined (in the app or with `hallmark market join`).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Marketplace {
    pub origin: String,
    /// Its did:key, pinned when the creator joined.
    pub marketplace: String,
    /// The creator's did:key and registered name.
    pub creator: String,
    pub name: String,
    pub joined_at: String,
}

impl From<&Joined> for Marketplace {
    fn from(j: &Joined) -> Self {
        Self {
            origin: j.origin.clone(),
            marketplace: j.marketplace.clone(),
            creator: j.creator.clone(),
            name: j.name.clone(),
            joined_at: j.joined_at.clone(),
        }
    }
}

/// How a marketplace's key compares with the one pinned when the creator joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    Same,
    /// Another key: nothing is sent to it.
    Changed,
    Unreachable,
}

/// A marketplace's key checked against the pinned one.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MarketplaceCheck {
    pub state: PinState,
    /// The key it answered with.
    pub found: Option<String>,
    /// What it means, when it is not the same key.
    pub message: Option<String>,
}

/// The time step of the earnings chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EarningsStep {
    Day,
    Week,
    Month,
}

/// One currency's verified earnings (the creator's share), exact decimals.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyTotal {
    pub currency: String,
    /// Counted by verified statements.
    pub statemented: String,
    /// Of those, in statements the marketplace says it paid.
    pub paid: String,
    /// Not in a statement yet (the open period).
    pub estimated: String,
    /// The statemented total rounded to the currency's minor unit, half to even: what is paid out.
    pub payable: Option<String>,
    pub accesses: u64,
    pub samples: u64,
    /// Distinct buyers (pseudonyms) of verified accesses.
    pub buyers: u64,
}

/// One line of a table or one point of the chart: a group (dataset, shard, day, ISO week or
/// month) in one currency.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EarningsLine {
    pub group: String,
    pub currency: String,
    pub accesses: u64,
    pub samples: u64,
    /// Distinct buyers (the marketplace's pseudonyms for them).
    pub buyers: u64,
    /// The creator's share of every verified access, then how much of it is statemented, paid
    /// and estimated.
    pub share: String,
    pub statemented: String,
    pub paid: String,
    pub estimated: String,
}

impl From<&Line> for EarningsLine {
    fn from(l: &Line) -> Self {
        Self {
            group: l.group.clone(),
            currency: l.currency.clone(),
            accesses: l.accesses,
            samples: l.samples,
            buyers: l.buyers,
            share: l.share.to_string(),
            statemented: l.statemented.to_string(),
            paid: l.paid.to_string(),
            estimated: l.estimated.to_string(),
        }
    }
}

/// A statement, with the result of each check on it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StatementCheck {
    pub sequence: u64,
    pub id: String,
    pub period_start: String,
    pub period_end: String,
    /// Per currency, as the statement states it and as the receipts that verified add up.
    pub stated: Vec<String>,
    pub verified: Vec<String>,
    /// Signed by the marketplace joined, for this creator, in an unbroken chain.
    pub signature_ok: bool,
    /// Every receipt it counts is in the public log at its checkpoint.
    pub in_log: bool,
    /// Its totals are the sum of its receipts, each as published and counted once.
    pub totals_add_up: bool,
    pub findings: u64,
    /// `pending`, `paid` or `unknown`, with the marketplace's payout reference.
    pub payout: String,
    pub payout_reference: Option<String>,
}

/// A failed check, in plain words with its evidence.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EarningsFinding {
    /// The check, as the CLI's `--json` names it (`receipt-not-in-log`, …).
    pub kind: String,
    /// What it means, for a creator.
    pub words: String,
    pub statement: Option<u64>,
    pub receipt: Option<u64>,
    pub field: String,
    pub expected: String,
    pub found: String,
    /// Left out of the verified totals because of it, per currency ("0.01 USD").
    pub excluded: Vec<String>,
}

/// The plain words for a kind of finding.
fn finding_words(kind: FindingKind) -> &'static str {
    use FindingKind as K;
    match kind {
        K::StatementSignature => "This statement is not signed by the marketplace you joined.",
        K::StatementSequence => {
            "A statement is missing from the chain: its number does not follow the one before."
        }
        K::StatementChain => {
            "This statement does not point to the one before it: the history was rewritten."
        }
        K::StatementCreator => "This statement is for another creator.",
        K::CheckpointSignature => {
            "The log checkpoint this statement relies on is not signed by the marketplace."
        }
        K::LogForked => {
            "The marketplace showed two different logs of the same size: its history forked."
        }
        K::LogShrank => "The marketplace's public log got smaller: entries were taken back.",
        K::LogInconsistent => "The public log's newer state does not extend the older one.",
        K::ReceiptMalformed => "A receipt cannot be read or its amounts do not add up.",
        K::ReceiptNotYours => "A receipt is for another creator or marketplace.",
        K::ReceiptNotPublished => {
            "A receipt names a version, shard, price or currency you did not publish."
        }
        K::ReceiptNotInLog => {
            "A receipt is not the one recorded in the public log: it was changed afterwards."
        }
        K::ProofMissing => {
            "The log data needed to check receipts is missing or wrong; refresh to fetch it again."
        }
        K::ReceiptMissing => "A statement counts a receipt the marketplace did not hand over.",
        K::ReceiptCountedTwice => "A receipt is counted twice.",
        K::TotalsDiffer => "The statement's totals are not the sum of its receipts.",
        _ => "A check of the marketplace's figures failed.",
    }
}

impl From<&Finding> for EarningsFinding {
    fn from(f: &Finding) -> Self {
        Self {
            kind: serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            words: finding_words(f.kind).to_owned(),
            statement: f.sequence,
            receipt: f.receipt,
            field: f.field.clone(),
            expected: f.expected.clone(),
            found: f.found.clone(),
            excluded: f
                .excluded
                .iter()
                .map(|(currency, amount)| format!("{amount} {currency}"))
                .collect(),
        }
    }
}

/// Everything the Earnings screen shows for one marketplace, verified offline from what is stored.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EarningsView {
    pub origin: String,
    pub totals: Vec<CurrencyTotal>,
    /// The chart: one line per period of `step` and currency, oldest first.
    pub step: EarningsStep,
    pub series: Vec<EarningsLine>,
    pub datasets: Vec<EarningsLine>,
    pub shards: Vec<EarningsLine>,
    pub statements: Vec<StatementCheck>,
    /// The public log only grew (no fork, no shrinking, every consistency proof holds).
    pub log_consistent: bool,
    /// At most [`FINDINGS_SHOWN`]; `findings_total` counts them all.
    pub findings: Vec<EarningsFinding>,
    pub findings_total: u64,
    pub receipts: u64,
}

/// The most findings sent to the screen; the count says how many there are.
pub const FINDINGS_SHOWN: usize = 500;

impl EarningsView {
    pub fn new(
        origin: &str,
        stored: &Stored,
        verification: &Verification,
        step: EarningsStep,
    ) -> Self {
        use FindingKind as K;
        let paid_ids = stored.paid();
        let by = match step {
            EarningsStep::Day => By::Day,
            EarningsStep::Week => By::Week,
            EarningsStep::Month => By::Month,
        };
        let datasets = summary::summarize(verification, By::Dataset, &paid_ids);
        let mut totals: BTreeMap<String, CurrencyTotal> = BTreeMap::new();
        let mut paid: BTreeMap<String, rust_decimal::Decimal> = BTreeMap::new();
        for line in &datasets {
            *paid.entry(line.currency.clone()).or_default() += line.paid;
            let total = totals
                .entry(line.currency.clone())
                .or_insert_with(|| CurrencyTotal {
                    currency: line.currency.clone(),
                    statemented: "0".into(),
                    paid: "0".into(),
                    estimated: "0".into(),
                    payable: None,
                    accesses: 0,
                    samples: 0,
                    buyers: 0,
                });
            total.accesses += line.accesses;
            total.samples += line.samples;
        }
        for (currency, buyers) in summary::distinct_buyers(verification) {
            if let Some(total) = totals.get_mut(&currency) {
                total.buyers = buyers;
            }
        }
        for t in &verification.statemented.totals {
            if let Some(total) = totals.get_mut(&t.currency) {
                total.statemented = t.creator_share.to_string();
                total.payable = t.payable.map(|p| p.to_string());
            }
        }
        for t in &verification.estimated.totals {
            if let Some(total) = totals.get_mut(&t.currency) {
                total.estimated = t.creator_share.to_string();
            }
        }
        for (currency, amount) in paid {
            if let Some(total) = totals.get_mut(&currency) {
                total.paid = amount.to_string();
            }
        }
        let about = |id: &str, kinds: &[K]| {
            !verification
                .findings
                .iter()
                .any(|f| f.statement.as_deref() == Some(id) && kinds.contains(&f.kind))
        };
        let money = |t: &hallmark_core::earnings::statement::Total| {
            format!("{} {}", t.creator_share, t.currency)
        };
        let statements = verification
            .statements
            .iter()
            .map(|s| {
                let payout = stored.payouts.get(&s.id);
                StatementCheck {
                    sequence: s.sequence,
                    id: s.id.clone(),
                    period_start: s.period.start.clone(),
                    period_end: s.period.end.clone(),
                    stated: s.stated.iter().map(money).collect(),
                    verified: s.verified.iter().map(money).collect(),
                    signature_ok: about(
                        &s.id,
                        &[
                            K::StatementSignature,
                            K::StatementSequence,
                            K::StatementChain,
                            K::StatementCreator,
                        ],
                    ),
                    in_log: about(
                        &s.id,
                        &[
                            K::CheckpointSignature,
                            K::ReceiptNotInLog,
                            K::ProofMissing,
                            K::ReceiptMissing,
                        ],
                    ),
                    totals_add_up: about(
                        &s.id,
                        &[
                            K::TotalsDiffer,
                            K::ReceiptCountedTwice,
                            K::ReceiptMalformed,
                            K::ReceiptNotYours,
                            K::ReceiptNotPublished,
                        ],
                    ),
                    findings: s.findings as u64,
                    payout: payout.map_or_else(|| "unknown".to_owned(), |p| p.status.clone()),
                    payout_reference: payout.and_then(|p| p.reference.clone()),
                }
            })
            .collect();
        Self {
            origin: origin.to_owned(),
            totals: totals.into_values().collect(),
            step,
            series: summary::summarize(verification, by, &paid_ids)
                .iter()
                .map(EarningsLine::from)
                .collect(),
            datasets: datasets.iter().map(EarningsLine::from).collect(),
            shards: summary::summarize(verification, By::Shard, &paid_ids)
                .iter()
                .map(EarningsLine::from)
                .collect(),
            statements,
            log_consistent: !verification
                .findings
                .iter()
                .any(|f| matches!(f.kind, K::LogForked | K::LogShrank | K::LogInconsistent)),
            findings: verification
                .findings
                .iter()
                .take(FINDINGS_SHOWN)
                .map(EarningsFinding::from)
                .collect(),
            findings_total: verification.findings.len() as u64,
            receipts: verification.receipts.len() as u64,
        }
    }
}

/// What the Publish screen sends: the signed dataset, where, and (the first time) its terms.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PublishRequest {
    /// The output folder holding the signed seal.
    pub out: String,
    /// The source folder, when it moved since the seal.
    pub source: Option<String>,
    pub origin: String,
    /// Price per sample (an exact decimal) and ISO 4217 currency; none to keep those of an
    /// earlier publish of the same seal.
    pub price: Option<String>,
    pub currency: Option<String>,
    /// An upload speed limit in bytes per second (all streams together); none for no limit.
    pub max_bytes_per_second: Option<u64>,
}

/// A publish this studio started that the marketplace has not listed yet.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct InterruptedPublish {
    pub origin: String,
    /// The dataset's output folder and source folder.
    pub out: String,
    pub source: String,
    /// The terms it was started with (kept for the resumed publish).
    pub price: String,
    pub currency: String,
}

/// A version listed in a marketplace's catalog.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PublishResult {
    pub origin: String,
    pub name: String,
    pub version: String,
    pub version_id: String,
    pub catalog_url: String,
    pub already_published: bool,
    pub price: String,
    pub currency: String,
    pub shards: u64,
    pub uploaded_shards: u64,
    pub already_held_shards: u64,
    pub bytes_sent: u64,
}

impl From<&hallmark_client::publishing::PublishReport> for PublishResult {
    fn from(r: &hallmark_client::publishing::PublishReport) -> Self {
        Self {
            origin: r.origin.clone(),
            name: r.name.clone(),
            version: r.version.clone(),
            version_id: r.version_id.clone(),
            catalog_url: r.catalog_url.clone(),
            already_published: r.already_published,
            price: r.price.clone(),
            currency: r.currency.clone(),
            shards: r.shards as u64,
            uploaded_shards: r.uploaded_shards.len() as u64,
            already_held_shards: r.already_held_shards as u64,
            bytes_sent: r.bytes_sent,
        }
    }
}
