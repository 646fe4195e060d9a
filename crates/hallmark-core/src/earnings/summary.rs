//! Sums of verified earnings: by dataset, version, shard, day, ISO week or month, per currency,
//! split into statemented, paid and estimated, with distinct buyers; and the rows of an
//! accountant's export (one per asset and statement period).
//!
//! Only receipts that verified are summed ([`ReceiptStatus::Statemented`] and
//! [`ReceiptStatus::Estimated`]); excluded ones are in the findings, with their amounts.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::verify::{ReceiptOutcome, ReceiptStatus, Verification};
use crate::datetime::rfc3339_utc;

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

/// A summary's group, before it is written: names borrowed from the receipts' assets, or a
/// period as (year, day of the year | ISO week | month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Group<'a> {
    Names(&'a str, &'a str, &'a str),
    Period(i32, u16),
}

impl Group<'_> {
    /// The group of `outcome` under `by`.
    fn of(outcome: &ReceiptOutcome, by: By) -> Group<'_> {
        let asset = &*outcome.access.asset;
        let date = outcome.access.time.date();
        match by {
            By::Dataset => Group::Names(&asset.dataset, "", ""),
            By::Version => Group::Names(&asset.dataset, &asset.version, ""),
            By::Shard => Group::Names(&asset.dataset, &asset.version, &asset.shard),
            By::Day => Group::Period(date.year(), date.ordinal()),
            By::Week => {
                let (year, week, _) = date.to_iso_week_date();
                Group::Period(year, week.into())
            }
            By::Month => Group::Period(date.year(), u8::from(date.month()).into()),
        }
    }

    /// As a line names it.
    fn text(self, by: By) -> String {
        match (self, by) {
            (Group::Names(dataset, _, _), By::Dataset) => dataset.to_owned(),
            (Group::Names(dataset, version, _), By::Version) => format!("{dataset}/{version}"),
            (Group::Names(dataset, version, shard), _) => format!("{dataset}/{version}/{shard}"),
            (Group::Period(year, week), By::Week) => format!("{year:04}-W{week:02}"),
            (Group::Period(year, month), By::Month) => format!("{year:04}-{month:02}"),
            (Group::Period(year, day), _) => {
                match time::Date::from_ordinal_date(year, day) {
                    Ok(date) => format!(
                        "{:04}-{:02}-{:02}",
                        date.year(),
                        u8::from(date.month()),
                        date.day()
                    ),
                    // Made from a date just above: cannot happen.
                    Err(_) => format!("{year:04}-{day:03}"),
                }
            }
        }
    }
}

/// The verified receipts summed by `by` and currency, sorted by group then currency. `paid` names
/// the statements (by id) the marketplace marked paid.
pub fn summarize(verification: &Verification, by: By, paid: &BTreeSet<String>) -> Vec<Line> {
    #[derive(Default)]
    struct Sum {
        accesses: u64,
        samples: u64,
        gross: Decimal,
        share: Decimal,
        statemented: Decimal,
        paid: Decimal,
        estimated: Decimal,
        buyers: HashSet<u128>,
    }
    let mut sums: HashMap<(Group<'_>, &str), Sum> = HashMap::new();
    for outcome in &verification.receipts {
        if !matches!(
            outcome.status,
            ReceiptStatus::Statemented | ReceiptStatus::Estimated
        ) {
            continue;
        }
        let access = &outcome.access;
        let key = (Group::of(outcome, by), access.asset.currency.as_str());
        let sum = sums.entry(key).or_default();
        sum.accesses += 1;
        sum.samples = sum.samples.saturating_add(access.samples);
        sum.gross += access.amount;
        sum.share += access.creator_share;
        if outcome.status == ReceiptStatus::Statemented {
            sum.statemented += access.creator_share;
            if outcome
                .statement
                .as_deref()
                .is_some_and(|s| paid.contains(s))
            {
                sum.paid += access.creator_share;
            }
        } else {
            sum.estimated += access.creator_share;
        }
        sum.buyers.insert(access.buyer);
    }
    let mut lines: Vec<Line> = sums
        .into_iter()
        .map(|((group, currency), sum)| Line {
            group: group.text(by),
            currency: currency.to_owned(),
            accesses: sum.accesses,
            samples: sum.samples,
            buyers: sum.buyers.len() as u64,
            gross: sum.gross.normalize(),
            share: sum.share.normalize(),
            statemented: sum.statemented.normalize(),
            paid: sum.paid.normalize(),
            estimated: sum.estimated.normalize(),
        })
        .collect();
    lines.sort_by(|a, b| (&a.group, &a.currency).cmp(&(&b.group, &b.currency)));
    lines
}

/// Distinct buyer pseudonyms among the verified receipts ([`ReceiptStatus::Statemented`] and
/// [`ReceiptStatus::Estimated`]), per currency.
pub fn distinct_buyers(verification: &Verification) -> BTreeMap<String, u64> {
    let mut buyers: BTreeMap<&str, HashSet<u128>> = BTreeMap::new();
    for outcome in &verification.receipts {
        if matches!(
            outcome.status,
            ReceiptStatus::Statemented | ReceiptStatus::Estimated
        ) {
            let currency = outcome.access.asset.currency.as_str();
            buyers
                .entry(currency)
                .or_default()
                .insert(outcome.access.buyer);
        }
    }
    buyers
        .into_iter()
        .map(|(currency, set)| (currency.to_owned(), set.len() as u64))
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
    type Key<'k> = (u64, &'k str, &'k str, &'k str, &'k str, Option<&'k str>);
    /// A row being summed, and the open period's first and last receipt times.
    struct Sum {
        row: AssetRow,
        first: OffsetDateTime,
        last: OffsetDateTime,
    }
    let mut rows: BTreeMap<Key<'_>, Sum> = BTreeMap::new();
    for outcome in &verification.receipts {
        let access = &outcome.access;
        let asset = &*access.asset;
        let (sequence, period, statement) = match outcome.status {
            ReceiptStatus::Statemented => {
                let Some(id) = outcome.statement.as_deref() else {
                    continue;
                };
                let Some(&(start, end, sequence)) = periods.get(id) else {
                    continue;
                };
                (sequence, Some((start, end)), Some(id))
            }
            ReceiptStatus::Estimated => (u64::MAX, None, None),
            _ => continue,
        };
        let key = (
            sequence,
            asset.dataset.as_str(),
            asset.version.as_str(),
            asset.shard.as_str(),
            asset.currency.as_str(),
            statement,
        );
        let sum = rows.entry(key).or_insert_with(|| Sum {
            row: AssetRow {
                period_start: period
                    .map(|(start, _)| start.to_owned())
                    .unwrap_or_default(),
                period_end: period.map(|(_, end)| end.to_owned()).unwrap_or_default(),
                dataset: asset.dataset.clone(),
                version: asset.version.clone(),
                shard: asset.shard.clone(),
                accesses: 0,
                samples: 0,
                gross: Decimal::ZERO,
                share: Decimal::ZERO,
                currency: asset.currency.clone(),
                payout_status: match statement {
                    Some(id) if paid.contains(id) => "paid".into(),
                    Some(_) => "pending".into(),
                    None => "estimated".into(),
                },
                statement: statement.map(str::to_owned),
            },
            first: access.time,
            last: access.time,
        });
        sum.row.accesses += 1;
        sum.row.samples = sum.row.samples.saturating_add(access.samples);
        sum.row.gross += access.amount;
        sum.row.share += access.creator_share;
        sum.first = sum.first.min(access.time);
        sum.last = sum.last.max(access.time);
    }
    rows.into_values()
        .map(
            |Sum {
                 mut row,
                 first,
                 last,
             }| {
                if row.statement.is_none() {
                    // The open period runs from the last statement's end (or the first receipt) to
                    // the latest receipt.
                    row.period_start = open_start.map_or_else(|| rfc3339_utc(first), str::to_owned);
                    row.period_end = rfc3339_utc(last);
                }
                row.gross = row.gross.normalize();
                row.share = row.share.normalize();
                row
            },
        )
        .collect()
}
