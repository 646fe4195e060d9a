//! A creator's earnings statement: a VC 2.0 the marketplace signs (eddsa-jcs-2022) when a period
//! closes, totalling that creator's receipts per currency, dataset, version and shard, listing the
//! receipts' indexes in the public log, anchored to a signed checkpoint, and chained to the
//! creator's previous statement by the SHA-256 of its exact bytes.
//!
//! [`tally`] is the one way totals are computed: the marketplace states them with it and a studio
//! recomputes them with it from the receipts it holds ([`check_totals`]).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::money::{Currency, MoneyError, ROUNDING_RULE};
use super::receipt::Receipt;
use crate::creator::VERIFIABLE_CREDENTIAL;
use crate::did::{PublicIdentity, SigningIdentity};
use crate::integrity::{self, ProofError, ProofExpectation};

/// The credential type of a statement.
pub const EARNINGS_STATEMENT: &str = "EarningsStatement";
/// The W3C VC 2.0 context.
const VC_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// The largest statement read, in bytes (a statement lists every receipt index of its period).
pub const MAX_STATEMENT_BYTES: usize = 64 << 20;

/// One line of totals: for a currency, and for a dataset, version or shard when named.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Total {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub currency: String,
    pub receipts: u64,
    pub samples: u64,
    /// What buyers paid, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub gross: Decimal,
    /// The creator's part, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub creator_share: Decimal,
    /// Only on per-currency totals: the creator share rounded by [`ROUNDING_RULE`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    pub payable: Option<Decimal>,
}

/// Totals at every level, each sorted by its keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tallies {
    pub totals: Vec<Total>,
    pub datasets: Vec<Total>,
    pub versions: Vec<Total>,
    pub shards: Vec<Total>,
}

/// The period a statement covers, `[start, end)`, RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub start: String,
    pub end: String,
}

/// What a statement says (its `credentialSubject`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatementClaims {
    /// The creator's did:key.
    pub id: String,
    /// 1 for a creator's first statement, then one more each time.
    pub sequence: u64,
    pub period: Period,
    /// SHA-256 (hex) of the exact bytes of the creator's previous statement; none for the first.
    pub previous_statement: Option<String>,
    pub rounding_rule: String,
    pub totals: Vec<Total>,
    pub datasets: Vec<Total>,
    pub versions: Vec<Total>,
    pub shards: Vec<Total>,
    /// The log indexes of the receipts counted, ascending.
    pub receipts: Vec<u64>,
    /// The signed checkpoint (a C2SP signed note) whose tree includes every receipt counted.
    pub checkpoint: String,
}

/// Why a statement cannot be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("the statement is not a well-formed earnings statement: {0}")]
    Shape(String),
    #[error("the statement was signed by {found}, not the marketplace {expected}")]
    Issuer { expected: String, found: String },
    #[error("statement totals differ from its receipts: {0}")]
    Totals(String),
}

/// What [`tally`] sums: a receipt, or what a studio keeps of one.
pub trait Tallied {
    /// Dataset, version, shard and currency.
    fn names(&self) -> (&str, &str, &str, &str);
    fn samples(&self) -> u64;
    /// What the buyer paid.
    fn amount(&self) -> Decimal;
    fn creator_share(&self) -> Decimal;
}

impl<S: AsRef<str>> Tallied for Receipt<S> {
    fn names(&self) -> (&str, &str, &str, &str) {
        (
            self.dataset.as_ref(),
            self.version.as_ref(),
            self.shard.as_ref(),
            self.currency.as_ref(),
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

/// Totals of `receipts` per currency, dataset, version and shard: exact sums, and per currency
/// the payable amount rounded once by [`ROUNDING_RULE`].
pub fn tally<'a, T: Tallied + 'a>(
    receipts: impl IntoIterator<Item = &'a T>,
) -> Result<Tallies, MoneyError> {
    // Keys borrow from the receipts: a line's strings are copied once, when it is first met.
    // Each receipt is added to its shard's line only; the coarser levels are sums of those lines.
    type Key<'k> = (&'k str, &'k str, &'k str, &'k str);
    #[derive(Default)]
    struct Sum {
        receipts: u64,
        samples: u64,
        gross: Decimal,
        creator_share: Decimal,
    }
    impl Sum {
        fn add(
            &mut self,
            receipts: u64,
            samples: u64,
            gross: Decimal,
            share: Decimal,
        ) -> Result<(), MoneyError> {
            self.receipts += receipts;
            self.samples = self
                .samples
                .checked_add(samples)
                .ok_or(MoneyError::Overflow("samples"))?;
            self.gross = self
                .gross
                .checked_add(gross)
                .ok_or(MoneyError::Overflow("gross"))?;
            self.creator_share = self
                .creator_share
                .checked_add(share)
                .ok_or(MoneyError::Overflow("creator share"))?;
            Ok(())
        }
    }
    let mut shards: BTreeMap<Key<'a>, Sum> = BTreeMap::new();
    for receipt in receipts {
        shards.entry(receipt.names()).or_default().add(
            1,
            receipt.samples(),
            receipt.amount(),
            receipt.creator_share(),
        )?;
    }
    let mut levels: [BTreeMap<Key<'a>, Sum>; 4] = Default::default();
    for (&(dataset, version, _, currency), sum) in &shards {
        let keys: [Key<'a>; 3] = [
            (currency, "", "", ""),
            (dataset, "", "", currency),
            (dataset, version, "", currency),
        ];
        for (map, key) in levels.iter_mut().zip(keys) {
            map.entry(key).or_default().add(
                sum.receipts,
                sum.samples,
                sum.gross,
                sum.creator_share,
            )?;
        }
    }
    levels[3] = shards;
    let mut level = 0;
    let [totals, datasets, versions, shards] = levels.map(|map| {
        let depth = level;
        level += 1;
        map.into_iter()
            .map(|((dataset, version, shard, currency), sum)| {
                let (dataset, currency) = if depth == 0 {
                    ("", dataset)
                } else {
                    (dataset, currency)
                };
                let named = |text: &str, at: usize| (depth > at).then(|| text.to_string());
                Total {
                    dataset: named(dataset, 0),
                    version: named(version, 1),
                    shard: named(shard, 2),
                    currency: currency.to_string(),
                    receipts: sum.receipts,
                    samples: sum.samples,
                    gross: sum.gross.normalize(),
                    creator_share: sum.creator_share.normalize(),
                    payable: None,
                }
            })
            .collect::<Vec<_>>()
    });
    let mut totals = totals;
    for total in &mut totals {
        total.payable = Some(Currency::parse(&total.currency)?.payable(total.creator_share));
    }
    Ok(Tallies {
        totals,
        datasets,
        versions,
        shards,
    })
}

/// The claims of a statement over `receipts` (with their log indexes).
pub fn claims(
    creator: &str,
    sequence: u64,
    period: Period,
    previous_statement: Option<String>,
    receipts: &[(u64, Receipt)],
    checkpoint: String,
) -> Result<StatementClaims, MoneyError> {
    let tallies = tally(receipts.iter().map(|(_, receipt)| receipt))?;
    let mut indexes: Vec<u64> = receipts.iter().map(|(index, _)| *index).collect();
    indexes.sort_unstable();
    Ok(StatementClaims {
        id: creator.into(),
        sequence,
        period,
        previous_statement,
        rounding_rule: ROUNDING_RULE.into(),
        totals: tallies.totals,
        datasets: tallies.datasets,
        versions: tallies.versions,
        shards: tallies.shards,
        receipts: indexes,
        checkpoint,
    })
}

/// Signs `claims` as the marketplace's statement `id`, valid from `issued` (RFC 3339).
pub fn issue(
    marketplace: &SigningIdentity,
    id: &str,
    claims: &StatementClaims,
    issued: &str,
) -> Result<Value, StatementError> {
    let subject = serde_json::to_value(claims).map_err(|e| StatementError::Shape(e.to_string()))?;
    let statement = json!({
        "@context": [VC_V2],
        "type": [VERIFIABLE_CREDENTIAL, EARNINGS_STATEMENT],
        "id": id,
        "issuer": marketplace.public().to_string(),
        "validFrom": issued,
        "credentialSubject": subject,
    });
    Ok(integrity::sign(
        &statement,
        marketplace,
        issued,
        integrity::ASSERTION_METHOD,
    )?)
}

/// Reads a statement's exact bytes: strict JSON, signed (assertionMethod) by `marketplace`, of the
/// statement type, with claims of the statement shape. `now` bounds the proof's creation time.
pub fn open(
    bytes: &[u8],
    marketplace: &PublicIdentity,
    now: &str,
) -> Result<StatementClaims, StatementError> {
    let mut document = crate::json::from_slice(bytes, MAX_STATEMENT_BYTES)
        .map_err(|e| StatementError::Shape(e.to_string()))?;
    let proof = integrity::verify(&document, &ProofExpectation::assertion(now))?;
    if proof.signer != *marketplace {
        return Err(StatementError::Issuer {
            expected: marketplace.to_string(),
            found: proof.signer.to_string(),
        });
    }
    let is_statement = document["type"]
        .as_array()
        .is_some_and(|types| types.iter().any(|t| t == EARNINGS_STATEMENT));
    if !is_statement || document["issuer"] != marketplace.to_string().as_str() {
        return Err(StatementError::Shape(format!(
            "expected type {EARNINGS_STATEMENT} issued by {marketplace}"
        )));
    }
    // Taken, not cloned: a statement lists every receipt it counts (a million is 8 MB of JSON).
    let subject = document
        .get_mut("credentialSubject")
        .map(Value::take)
        .unwrap_or_default();
    serde_json::from_value(subject).map_err(|e| StatementError::Shape(e.to_string()))
}

/// Checks that the totals `claims` states are the tally of `receipts` (the ones it counts).
pub fn check_totals(claims: &StatementClaims, receipts: &[Receipt]) -> Result<(), StatementError> {
    let recomputed = tally(receipts)?;
    let levels = [
        ("totals", &claims.totals, &recomputed.totals),
        ("datasets", &claims.datasets, &recomputed.datasets),
        ("versions", &claims.versions, &recomputed.versions),
        ("shards", &claims.shards, &recomputed.shards),
    ];
    for (name, stated, expected) in levels {
        if stated != expected {
            return Err(StatementError::Totals(format!(
                "{name}: stated {}, the receipts add up to {}",
                serde_json::to_string(stated).unwrap_or_default(),
                serde_json::to_string(expected).unwrap_or_default()
            )));
        }
    }
    if claims.rounding_rule != ROUNDING_RULE {
        return Err(StatementError::Totals(format!(
            "rounding rule {:?} is not the one this studio knows",
            claims.rounding_rule
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::earnings::money;
    use crate::earnings::receipt::ByteRange;
    use std::str::FromStr as _;

    fn receipt(
        n: u8,
        dataset: &str,
        shard: &str,
        samples: u64,
        price: &str,
        currency: &str,
    ) -> Receipt {
        let price = Decimal::from_str(price).expect("price");
        let rate = Decimal::from_str("0.8").expect("rate");
        let amount = money::amount(samples, price).expect("amount");
        Receipt {
            id: format!("r_{:032x}", n),
            time: "2026-11-23T10:00:00Z".into(),
            marketplace: "did:key:m".into(),
            creator: "did:key:c".into(),
            dataset: dataset.into(),
            version: "v_1".into(),
            shard: shard.into(),
            range: ByteRange { first: 0, last: 9 },
            samples,
            buyer: format!("b_{:032x}", 1),
            price,
            amount,
            share_rate: rate,
            creator_share: money::creator_share(amount, rate).expect("share"),
            currency: currency.into(),
        }
    }

    #[test]
    fn tallies_sum_exactly_and_round_once() {
        let receipts = vec![
            receipt(1, "d_a", "s1", 3, "0.0007", "USD"),
            receipt(2, "d_a", "s2", 1, "0.0007", "USD"),
            receipt(3, "d_b", "s3", 5, "0.003125", "USD"),
            receipt(4, "d_b", "s3", 2, "1", "JPY"),
        ];
        let t = tally(&receipts).expect("tally");
        let usd = &t.totals[1];
        assert_eq!(usd.currency, "USD");
        assert_eq!((usd.receipts, usd.samples), (3, 9));
        // 0.0021 + 0.0007 + 0.015625 = 0.018425; share 0.8 → 0.01474, payable 0.01.
        assert_eq!(usd.gross, Decimal::from_str("0.018425").expect("d"));
        assert_eq!(usd.creator_share, Decimal::from_str("0.01474").expect("d"));
        assert_eq!(usd.payable, Some(Decimal::from_str("0.01").expect("d")));
        let jpy = &t.totals[0];
        assert_eq!(jpy.payable, Some(Decimal::from_str("2").expect("d")));
        assert_eq!(t.datasets.len(), 3);
        assert_eq!(t.shards.len(), 4);
        assert_eq!(t.shards[0].shard.as_deref(), Some("s1"));
        assert_eq!(t.datasets[0].version, None);
    }

    #[test]
    fn a_signed_statement_opens_and_its_totals_check() {
        let market = SigningIdentity::generate();
        let receipts = vec![
            (4, receipt(1, "d_a", "s1", 3, "0.0007", "USD")),
            (2, receipt(2, "d_a", "s2", 1, "0.0007", "USD")),
        ];
        let period = Period {
            start: "2026-11-23T00:00:00Z".into(),
            end: "2026-11-24T00:00:00Z".into(),
        };
        let claims =
            claims("did:key:c", 1, period, None, &receipts, "cp\n".into()).expect("claims");
        assert_eq!(claims.receipts, vec![2, 4]);
        let signed = issue(&market, "urn:x", &claims, "2026-11-24T00:00:05Z").expect("signs");
        let bytes = serde_json::to_vec(&signed).expect("bytes");
        let opened = open(&bytes, &market.public(), "2026-11-24T00:01:00Z").expect("opens");
        assert_eq!(opened, claims);
        let plain: Vec<Receipt> = receipts.into_iter().map(|(_, r)| r).collect();
        check_totals(&opened, &plain).expect("totals add up");
        assert!(matches!(
            check_totals(&opened, &plain[..1]),
            Err(StatementError::Totals(_))
        ));
        let other = SigningIdentity::generate();
        assert!(matches!(
            open(&bytes, &other.public(), "2026-11-24T00:01:00Z"),
            Err(StatementError::Issuer { .. })
        ));
        let text = String::from_utf8(bytes).expect("utf-8");
        let tampered = text.replace("\"samples\":4", "\"samples\":5");
        assert_ne!(tampered, text);
        assert!(
            open(
                tampered.as_bytes(),
                &market.public(),
                "2026-11-24T00:01:00Z"
            )
            .is_err()
        );
    }
}
