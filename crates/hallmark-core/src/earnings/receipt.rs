//! A receipt: one paid access to a shard, as the marketplace records it and commits it to its log.
//!
//! The log is public, so its leaf is a commitment, not the receipt: SHA-256 of the receipt's JCS
//! bytes (RFC 8785). The receipt's random id makes the commitment unguessable, so only the creator
//! the marketplace hands the receipt to can tell which leaf is theirs.

use rust_decimal::Decimal;

use super::money::{self, Currency, MoneyError};
use crate::digest::Sha256Digest;

/// The largest receipt JSON this code reads, in bytes.
pub const MAX_RECEIPT_BYTES: usize = 4096;

/// Bytes `first..=last` of a shard, as an HTTP range names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    /// How many bytes.
    pub fn len(self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a range holds at least one byte.
    pub fn is_empty(self) -> bool {
        false
    }
}

/// One paid access that delivered its bytes.
///
/// Its text fields are `String`s; [`Receipt::borrowed`] reads them as `&str` into the bytes it
/// is read from, which is how a studio reads a million of them without a copy of each field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    bound(
        serialize = "S: serde::Serialize",
        deserialize = "S: serde::Deserialize<'de>"
    )
)]
pub struct Receipt<S = String> {
    /// Random, `r_` and 32 hex digits.
    pub id: S,
    /// When the bytes were delivered, RFC 3339 UTC to the second.
    pub time: S,
    /// The marketplace's did:key.
    pub marketplace: S,
    /// The creator's did:key.
    pub creator: S,
    /// The marketplace's ids of the dataset and the version.
    pub dataset: S,
    pub version: S,
    /// The shard's CID.
    pub shard: S,
    /// The bytes of the samples billed: from the first one's data to the end of the last one's.
    pub range: ByteRange,
    /// The samples billed: a run of consecutive samples of the shard, the ones `range` covers.
    pub samples: u64,
    /// The buyer, as a pseudonym that is stable for this creator and means nothing to any other.
    pub buyer: S,
    /// Price per sample, copied from the version into the buyer's entitlement.
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
    /// `samples × price`, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The creator's share rate of the version, between 0 and 1.
    #[serde(with = "rust_decimal::serde::str")]
    pub share_rate: Decimal,
    /// `amount × share rate`, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub creator_share: Decimal,
    /// ISO 4217.
    pub currency: S,
}

/// Why a receipt is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    #[error("the receipt is not valid JSON of the receipt shape: {0}")]
    Shape(String),
    #[error("the receipt is larger than {MAX_RECEIPT_BYTES} bytes")]
    TooLarge,
    #[error("receipt {id}: {field} is {found}, expected {expected}")]
    Field {
        id: String,
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("receipt {id}: {source}")]
    Money {
        id: String,
        #[source]
        source: MoneyError,
    },
}

impl Receipt {
    /// The receipt's JCS bytes: what its commitment hashes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // A receipt is plain strings and integers: serialising it cannot fail.
        serde_json_canonicalizer::to_vec(self).unwrap_or_default()
    }

    /// The log leaf: SHA-256 of the canonical bytes.
    pub fn commitment(&self) -> Sha256Digest {
        Sha256Digest::of(&self.canonical_bytes())
    }

    /// Reads a receipt from JSON, strictly, and checks it is well formed ([`Receipt::check`]).
    pub fn from_json(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Err(ReceiptError::TooLarge);
        }
        let receipt: Receipt =
            serde_json::from_slice(bytes).map_err(|e| ReceiptError::Shape(e.to_string()))?;
        receipt.check()?;
        Ok(receipt)
    }
}

impl<'a> Receipt<&'a str> {
    /// Reads a receipt from JSON as [`Receipt::from_json`] does, its text fields borrowed from
    /// `bytes`. A receipt whose strings hold escapes cannot borrow them: `None`, and
    /// [`Receipt::from_json`] reads it.
    pub fn borrowed(bytes: &'a [u8]) -> Option<Result<(Receipt<&'a str>, Checked), ReceiptError>> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Some(Err(ReceiptError::TooLarge));
        }
        match serde_json::from_slice::<Receipt<&'a str>>(bytes) {
            Ok(receipt) => Some(receipt.checked().map(|checked| (receipt, checked))),
            // serde_json cannot tell "a string with escapes" from other shape errors by kind;
            // the owned reading gives the real error, if there is one.
            Err(_) => None,
        }
    }
}

impl<S: AsRef<str>> Receipt<S> {
    /// Checks what a receipt must be on its own: an id and a buyer of the right shape, a range in
    /// order, at least one sample, a known currency, and amounts that follow from price and rate.
    pub fn check(&self) -> Result<(), ReceiptError> {
        self.checked().map(drop)
    }

    /// [`Receipt::check`], returning what the checks read: the id and buyer as numbers, the time.
    pub fn checked(&self) -> Result<Checked, ReceiptError> {
        let id = self.id.as_ref();
        let field = |field: &'static str, expected: &str, found: String| ReceiptError::Field {
            id: id.to_owned(),
            field,
            expected: expected.into(),
            found,
        };
        let money = |source| ReceiptError::Money {
            id: id.to_owned(),
            source,
        };
        let Some(id_number) = token(id, "r_") else {
            return Err(field("id", "r_ and 32 hex digits", id.to_owned()));
        };
        let buyer = self.buyer.as_ref();
        let Some(buyer_number) = token(buyer, "b_") else {
            return Err(field("buyer", "b_ and 32 hex digits", buyer.to_owned()));
        };
        let time = self.time.as_ref();
        let Ok(at) = crate::datetime::Timestamp::parse("time", time) else {
            return Err(field("time", "an RFC 3339 date-time", time.to_owned()));
        };
        if self.range.first > self.range.last {
            return Err(field(
                "range",
                "first ≤ last",
                format!("{}..={}", self.range.first, self.range.last),
            ));
        }
        if self.samples == 0 {
            return Err(field("samples", "at least 1", "0".into()));
        }
        Currency::parse(self.currency.as_ref()).map_err(money)?;
        let amount = money::amount(self.samples, self.price).map_err(money)?;
        if amount != self.amount {
            return Err(field(
                "amount",
                &amount.to_string(),
                self.amount.to_string(),
            ));
        }
        let share = money::creator_share(amount, self.share_rate).map_err(money)?;
        if share != self.creator_share {
            return Err(field(
                "creatorShare",
                &share.to_string(),
                self.creator_share.to_string(),
            ));
        }
        Ok(Checked {
            id: id_number,
            buyer: buyer_number,
            time: at,
        })
    }
}

/// What [`Receipt::checked`] read of a well-formed receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The id's 32 hex digits as a number.
    pub id: u128,
    /// The buyer's 32 hex digits as a number.
    pub buyer: u128,
    pub time: crate::datetime::Timestamp,
}

/// The number written as `prefix` then 32 lowercase hex digits, if `text` is that.
fn token(text: &str, prefix: &str) -> Option<u128> {
    let digits = text.strip_prefix(prefix)?;
    let lower_hex = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if digits.len() != 32 || !lower_hex {
        return None;
    }
    u128::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr as _;

    pub(crate) fn sample() -> Receipt {
        Receipt {
            id: format!("r_{}", "0".repeat(32)),
            time: "2026-11-23T10:00:00Z".into(),
            marketplace: "did:key:z6MkMarket".into(),
            creator: "did:key:z6MkCreator".into(),
            dataset: "d_1".into(),
            version: "v_1".into(),
            shard: "bafkreiexample".into(),
            range: ByteRange {
                first: 512,
                last: 4607,
            },
            samples: 2,
            buyer: format!("b_{}", "a".repeat(32)),
            price: Decimal::from_str("0.0007").expect("price"),
            amount: Decimal::from_str("0.0014").expect("amount"),
            share_rate: Decimal::from_str("0.8").expect("rate"),
            creator_share: Decimal::from_str("0.00112").expect("share"),
            currency: "USD".into(),
        }
    }

    #[test]
    fn canonical_bytes_are_jcs_with_decimal_strings() {
        let receipt = sample();
        let text = String::from_utf8(receipt.canonical_bytes()).expect("utf-8");
        assert!(
            text.starts_with(r#"{"amount":"0.0014","buyer":"b_aaaa"#),
            "{text}"
        );
        assert!(
            text.contains(r#""range":{"first":512,"last":4607}"#),
            "{text}"
        );
        let back = Receipt::from_json(text.as_bytes()).expect("reads back");
        assert_eq!(back, receipt);
        assert_eq!(back.commitment(), receipt.commitment());
        assert_eq!(receipt.range.len(), 4096);
    }

    #[test]
    fn a_changed_field_changes_the_commitment() {
        let receipt = sample();
        let mut other = receipt.clone();
        other.samples = 3;
        assert_ne!(other.commitment(), receipt.commitment());
    }

    #[test]
    fn arithmetic_and_shape_are_checked() {
        let mut wrong = sample();
        wrong.amount = Decimal::from_str("0.0015").expect("amount");
        assert!(matches!(
            wrong.check(),
            Err(ReceiptError::Field {
                field: "amount",
                ..
            })
        ));
        let mut wrong = sample();
        wrong.creator_share = Decimal::from_str("0.0014").expect("share");
        assert!(matches!(
            wrong.check(),
            Err(ReceiptError::Field {
                field: "creatorShare",
                ..
            })
        ));
        let mut wrong = sample();
        wrong.range = ByteRange { first: 9, last: 3 };
        assert!(wrong.check().is_err());
        let mut wrong = sample();
        wrong.currency = "usd".into();
        assert!(matches!(wrong.check(), Err(ReceiptError::Money { .. })));
        let mut wrong = sample();
        wrong.id = "r_../../x".into();
        assert!(wrong.check().is_err());
        let json = serde_json::to_string(&sample()).expect("json");
        let extra = json.replacen('{', r#"{"extra":1,"#, 1);
        assert!(matches!(
            Receipt::from_json(extra.as_bytes()),
            Err(ReceiptError::Shape(_))
        ));
    }
}
