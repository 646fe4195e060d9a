//! What a dataset earns: per-access receipts, the money rules they follow, and the statements a
//! marketplace signs over them.
//!
//! The marketplace writes these types and a creator's studio checks them, with the same code, so
//! the two can never disagree on a byte: a receipt's commitment (the leaf of the public log) is the
//! SHA-256 of its JCS bytes, and every amount is an exact decimal computed by [`money`]'s rules.
//! [`verify`] is the studio's check of everything a marketplace handed over; [`summary`] sums
//! what verified by dataset, shard and period.

pub mod money;
pub mod receipt;
pub mod statement;
pub mod summary;
pub mod verify;

pub use money::{Currency, MoneyError};
pub use receipt::{ByteRange, Receipt, ReceiptError};
pub use statement::{Period, StatementClaims, StatementError, Total};
pub use verify::{Finding, FindingKind, ReceiptStatus, Verification};
