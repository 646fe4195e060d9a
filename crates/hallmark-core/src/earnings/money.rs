//! Money rules: exact decimals, ISO 4217 currencies, and the one rounding rule of statements.
//!
//! Per-sample prices are often fractions of a cent, so nothing is rounded per access: a receipt's
//! amount is `samples × price` and its creator share is `amount × share rate`, both exact. Sums are
//! exact too. Rounding happens once, when a statement states what is payable: the creator-share
//! total rounded to the currency's minor unit, half to even ([`ROUNDING_RULE`]).

use rust_decimal::{Decimal, RoundingStrategy};

/// The rounding rule, as statements state it next to the numbers.
pub const ROUNDING_RULE: &str = "amounts are exact decimals, never rounded per access; sums are exact; \
the payable amount is the creator-share total rounded half to even to the currency's ISO 4217 minor unit";

/// What is wrong with a price, a share or a currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    #[error("{0:?} is not an ISO 4217 currency code; use three capital letters such as USD or EUR")]
    Currency(String),
    #[error("{what} {value} is negative; it must be zero or more")]
    Negative { what: &'static str, value: Decimal },
    #[error("the share rate {0} is not between 0 and 1")]
    ShareRate(Decimal),
    #[error("{0} overflows an exact decimal (28 significant digits)")]
    Overflow(&'static str),
}

/// An ISO 4217 currency, with its minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// The currency with this code (`USD`, `EUR`, `JPY`); upper case only, as ISO 4217 writes it.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(MoneyError::Currency(code.into()));
        }
        iso_currency::Currency::from_code(code)
            .map(Currency)
            .ok_or_else(|| MoneyError::Currency(code.into()))
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point of the minor unit (2 for USD, 0 for JPY, 3 for KWD); 2 for
    /// codes ISO gives none (gold, testing codes).
    pub fn minor_digits(self) -> u32 {
        self.0.exponent().map_or(2, u32::from)
    }

    /// `amount` rounded by the statement rule: half to even, to the minor unit.
    pub fn payable(self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(self.minor_digits(), RoundingStrategy::MidpointNearestEven)
    }
}

/// What one access costs: `samples × price`, exact.
pub fn amount(samples: u64, price: Decimal) -> Result<Decimal, MoneyError> {
    if price.is_sign_negative() && !price.is_zero() {
        return Err(MoneyError::Negative {
            what: "the price",
            value: price,
        });
    }
    Decimal::from(samples)
        .checked_mul(price)
        .map(|exact| exact.normalize())
        .ok_or(MoneyError::Overflow("samples × price"))
}

/// The creator's part of `amount` at `rate` (between 0 and 1), exact.
pub fn creator_share(amount: Decimal, rate: Decimal) -> Result<Decimal, MoneyError> {
    if rate.is_sign_negative() && !rate.is_zero() || rate > Decimal::ONE {
        return Err(MoneyError::ShareRate(rate));
    }
    amount
        .checked_mul(rate)
        .map(|exact| exact.normalize())
        .ok_or(MoneyError::Overflow("amount × share rate"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr as _;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).expect("a decimal")
    }

    #[test]
    fn amounts_are_exact_and_rounded_only_when_payable() {
        let usd = Currency::parse("USD").expect("USD");
        let each = amount(3, d("0.0007")).expect("amount");
        assert_eq!(each, d("0.0021"));
        let share = creator_share(each, d("0.8")).expect("share");
        assert_eq!(share, d("0.00168"));
        // 1,000 accesses of 3 samples: exact, then rounded half to even once.
        let total: Decimal = (0..1000).map(|_| share).sum();
        assert_eq!(total, d("1.68"));
        assert_eq!(usd.payable(d("0.125")), d("0.12"));
        assert_eq!(usd.payable(d("0.135")), d("0.14"));
        assert_eq!(
            Currency::parse("JPY").expect("JPY").payable(d("2.5")),
            d("2")
        );
        assert_eq!(Currency::parse("KWD").expect("KWD").minor_digits(), 3);
    }

    #[test]
    fn bad_inputs_are_named() {
        assert!(matches!(
            Currency::parse("usd"),
            Err(MoneyError::Currency(_))
        ));
        assert!(matches!(
            Currency::parse("ZZZ"),
            Err(MoneyError::Currency(_))
        ));
        assert!(matches!(
            Currency::parse("US"),
            Err(MoneyError::Currency(_))
        ));
        assert!(amount(1, d("-0.01")).is_err());
        assert!(creator_share(d("1"), d("1.01")).is_err());
        assert!(creator_share(d("1"), d("-0.1")).is_err());
        assert!(amount(u64::MAX, Decimal::MAX).is_err());
    }
}
