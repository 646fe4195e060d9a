//! Sums of verified earnings: by dataset, version, shard, day, ISO week or month, per currency,
//! split into statemented, paid and estimated, with distinct buyers; and the rows of an
//! accountant's export (one per asset and statement period).
//!
//! Only receipts that verified are summed ([`ReceiptStatus::Statemented`] and
//! [`ReceiptStatus::Estimated`]); excluded ones are in the findings, with their amounts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rust_decimal::Decimal;

use super::verify::{ReceiptOutcome, ReceiptStatus, Verification};

/// What a summary groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Dataset,
    Version,
    Shard,
    Day,
    Week,
    Month,
}

impl std::str::FromStr for By {
    type Err = String;

    fn from_str(text: &str) -> Result<By, String> {
        Ok(match text {
            "dataset" => By::Dataset,
            "version" => By::Version,
            "shard" => By::Shard,
            "day" => By::Day,
            "week" => By::Week,
            "month" => By::Month,
            other => {
                return Err(format!(
                    "{other:?} is not a grouping; use dataset, version, shard, day, week or month"
                ));
            }
        })
    }
}

/// One line of a summary: a group and a currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// The dataset, version or shard id, or the UTC day (`2026-11-23`), ISO week (`2026-W48`) or
    /// month (`2026-11`).
    pub group: String,
    pub currency: String,
    pub accesses: u64,
    pub samples: u64,
    /// Distinct buyer pseudonyms.
    pub buyers: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub gross: Decimal,
    /// The creator share of every verified receipt, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub share: Decimal,
    /// Of `share`: counted by a verified statement.
    #[serde(with = "rust_decimal::serde::str")]
    pub statemented: Decimal,
    /// Of `statemented`: in statements the marketplace says it paid.
    #[serde(with = "rust_decimal::serde::str")]
    pub paid: Decimal,
    /// Of `share`: not in a statement yet (open period).
    #[serde(with = "rust_decimal::serde::str")]
    pub estimated: Decimal,
}

/// The group of `receipt` under `by`; `None` for a time that does not parse (never for a
/// receipt that passed its checks).
fn group(receipt: &ReceiptOutcome, by: By) -> Option<String> {
    let r = &receipt.receipt;
    Some(match by {
        By::Dataset => r.dataset.clone(),
        By::Version => format!("{}/{}", r.dataset, r.version),
        By::Shard => format!("{}/{}/{}", r.dataset, r.version, r.shard),
        By::Day | By::Week | By::Month => {
            let time = time::OffsetDateTime::parse(
                &r.time,
                &time::format_description::well_known::Rfc3339,
            )
            .ok()?
            .to_offset(time::UtcOffset::UTC);
            let date = time.date();
            match by {
                By::Day => format!(
                    "{:04}-{:02}-{:02}",
                    date.year(),
                    u8::from(date.month()),
                    date.day()
                ),
                By::Week => {
                    let (year, week, _) = date.to_iso_week_date();
                    format!("{year:04}-W{week:02}")
                }
                _ => format!("{:04}-{:02}", date.year(), u8::from(date.month())),
            }
        }
    })
}

/// The verified receipts summed by `by` and currency, sorted by group then currency. `paid` names
/// the statements (by id) the marketplace marked paid.
pub fn summarize(verification: &Verification, by: By, paid: &BTreeSet<String>) -> Vec<Line> {
    let mut lines: BTreeMap<(String, String), (Line, BTreeSet<&str>)> = BTreeMap::new();
    for outcome in &verification.receipts {
        if !matches!(
            outcome.status,
            ReceiptStatus::Statemented | ReceiptStatus::Estimated
        ) {
            continue;
        }
        let Some(group) = group(outcome, by) else {
            continue;
        };
        let r = &outcome.receipt;
        let (line, buyers) = lines
            .entry((group.clone(), r.currency.clone()))
            .or_insert_with(|| {
                (
                    Line {
                        group,
                        currency: r.currency.clone(),
                        accesses: 0,
                        samples: 0,
                        buyers: 0,
                        gross: Decimal::ZERO,
                        share: Decimal::ZERO,
                        statemented: Decimal::ZERO,
                        paid: Decimal::ZERO,
                        estimated: Decimal::ZERO,
                    },
                    BTreeSet::new(),
                )
            });
        line.accesses += 1;
        line.samples = line.samples.saturating_add(r.samples);
        line.gross += r.amount;
        line.share += r.creator_share;
        if outcome.status == ReceiptStatus::Statemented {
            line.statemented += r.creator_share;
            if outcome.statement.as_ref().is_some_and(|s| paid.contains(s)) {
                line.paid += r.creator_share;
            }
        } else {
            line.estimated += r.creator_share;
        }
        buyers.insert(&r.buyer);
    }
    lines
        .into_values()
        .map(|(mut line, buyers)| {
            line.buyers = buyers.len() as u64;
            for amount in [
                &mut line.gross,
                &mut line.share,
                &mut line.statemented,
                &mut line.paid,
                &mut line.estimated,
            ] {
                *amount = amount.normalize();
            }
            line
        })
        .collect()
}

/// One asset (a shard of a version) in one period: a statement's, or the open period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetRow {
    /// RFC 3339 UTC; for the open period, from the last statement's end (or the first receipt).
    pub period_start: String,
    /// RFC 3339 UTC; for the open period, the last receipt's time.
    pub period_end: String,
    pub dataset: String,
    pub version: String,
    pub shard: String,
    pub accesses: u64,
    pub samples: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub gross: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub share: Decimal,
    pub currency: String,
    /// The statement's id; none for the open period.
    pub statement: Option<String>,
    /// `paid`, `pending` (statemented, not paid) or `estimated` (open period).
    pub payout_status: String,
}

/// The export's rows: per statement (in sequence) and then the open period, one per asset and
/// currency, sorted by dataset, version, shard. `paid` names the statements marked paid.
pub fn asset_rows(verification: &Verification, paid: &BTreeSet<String>) -> Vec<AssetRow> {
    let periods: HashMap<&str, (&str, &str, u64)> = verification
        .statements
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                (s.period.start.as_str(), s.period.end.as_str(), s.sequence),
            )
        })
        .collect();
    let open_start = verification
        .statements
        .iter()
        .map(|s| s.period.end.as_str())
        .max();
    type Key = (u64, String, String, String, String, Option<String>);
    let mut rows: BTreeMap<Key, AssetRow> = BTreeMap::new();
    for outcome in &verification.receipts {
        let r = &outcome.receipt;
        let (sequence, start, end, statement) = match outcome.status {
            ReceiptStatus::Statemented => {
                let Some(id) = outcome.statement.as_deref() else {
                    continue;
                };
                let Some(&(start, end, sequence)) = periods.get(id) else {
                    continue;
                };
                (sequence, start, end, Some(id.to_owned()))
            }
            ReceiptStatus::Estimated => (
                u64::MAX,
                open_start.unwrap_or(r.time.as_str()),
                r.time.as_str(),
                None,
            ),
            _ => continue,
        };
        let key = (
            sequence,
            r.dataset.clone(),
            r.version.clone(),
            r.shard.clone(),
            r.currency.clone(),
            statement.clone(),
        );
        let row = rows.entry(key).or_insert_with(|| AssetRow {
            period_start: start.to_owned(),
            period_end: end.to_owned(),
            dataset: r.dataset.clone(),
            version: r.version.clone(),
            shard: r.shard.clone(),
            accesses: 0,
            samples: 0,
            gross: Decimal::ZERO,
            share: Decimal::ZERO,
            currency: r.currency.clone(),
            payout_status: match &statement {
                Some(id) if paid.contains(id) => "paid".into(),
                Some(_) => "pending".into(),
                None => "estimated".into(),
            },
            statement,
        });
        row.accesses += 1;
        row.samples = row.samples.saturating_add(r.samples);
        row.gross += r.amount;
        row.share += r.creator_share;
        if row.statement.is_none() {
            // The open period runs from the last statement's end to the latest receipt.
            if r.time.as_str() > row.period_end.as_str() {
                row.period_end = r.time.clone();
            }
            if open_start.is_none() && r.time.as_str() < row.period_start.as_str() {
                row.period_start = r.time.clone();
            }
        }
    }
    rows.into_values()
        .map(|mut row| {
            row.gross = row.gross.normalize();
            row.share = row.share.normalize();
            row
        })
        .collect()
}
