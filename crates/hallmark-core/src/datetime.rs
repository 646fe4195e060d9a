//! Dates in credentials and proofs (`validFrom`, `validUntil`, `created`, `expires`) and the `now`
//! they are judged at: RFC 3339 text with `Z` or a numeric offset, compared as instants.
//!
//! VC 2.0 writes these as XML Schema `dateTimeStamp`, which is RFC 3339 with an upper-case `T`
//! between date and time and an upper-case `Z` (or `±hh:mm`); that is what is accepted. The core
//! never reads the clock: `now` always comes from the caller.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The longest date-time text read (`2026-11-23T10:00:00.123456789+01:00` is 35 characters).
pub const MAX_DATE_CHARS: usize = 64;

/// A moment in time, from RFC 3339 text. Equal and ordered as instants: `11:00+01:00` is `10:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// Why a date field was refused: which field, what was found, and how to write one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "field {field}: {problem}; write an RFC 3339 date-time such as 2026-11-23T10:00:00Z or 2026-11-23T11:00:00+01:00"
)]
pub struct DateError {
    pub field: &'static str,
    pub problem: String,
}

impl Timestamp {
    /// Parses `text` (the value of `field`, named in the error) as an RFC 3339 date-time.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, DateError> {
        let refuse = |why: &str| DateError {
            field,
            problem: format!("{:?} {why}", crate::json::excerpt(text, MAX_DATE_CHARS)),
        };
        if text.len() > MAX_DATE_CHARS {
            return Err(refuse("is too long to be a date-time"));
        }
        // RFC 3339 lets the separator be any character and `z` be lower-case; dateTimeStamp does not.
        if text.as_bytes().get(10) != Some(&b'T') || text.ends_with('z') {
            return Err(refuse("is not a date-time with an upper-case T and Z"));
        }
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self)
            .map_err(|e| refuse(&format!("is not a date-time ({e})")))
    }

    /// The date-time string in `value`, the value of `field`. Anything but a string (a number,
    /// `null`, an object) is refused: a date that cannot be read must never count as "no date".
    pub fn from_value(field: &'static str, value: &Value) -> Result<Self, DateError> {
        match value {
            Value::String(text) => Self::parse(field, text),
            other => Err(DateError {
                field,
                problem: format!("must be a date-time string, found {}", kind(other)),
            }),
        }
    }

    /// `field` of `document`: `None` when absent, an error when present but not a date-time string.
    pub fn optional(document: &Value, field: &'static str) -> Result<Option<Self>, DateError> {
        match document.get(field) {
            None => Ok(None),
            Some(value) => Self::from_value(field, value).map(Some),
        }
    }

    /// This moment `seconds` later (or earlier, when negative), saturating at the calendar's ends.
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(time::Duration::seconds(seconds)))
    }

    /// This moment in UTC.
    pub fn utc(self) -> OffsetDateTime {
        self.0.to_offset(time::UtcOffset::UTC)
    }
}

/// `at` as RFC 3339 in UTC with `Z`, to the second when it has no fraction
/// (`2026-11-23T10:00:00Z`).
pub fn rfc3339_utc(at: OffsetDateTime) -> String {
    // Formatting a date-time of years 0–9999 as RFC 3339 cannot fail.
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// What kind of JSON value `value` is, for messages ("a number", "an object").
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse("now", text).unwrap()
    }

    #[test]
    fn offsets_name_the_same_instant_as_utc() {
        assert_eq!(at("2026-11-23T11:00:00+01:00"), at("2026-11-23T10:00:00Z"));
        assert_eq!(at("2026-11-23T04:30:00-05:30"), at("2026-11-23T10:00:00Z"));
        assert_eq!(at("2026-11-23T10:00:00-00:00"), at("2026-11-23T10:00:00Z"));
        assert!(at("2026-11-23T10:59:59+01:00") < at("2026-11-23T10:00:00Z"));
        assert!(at("2026-11-23T10:00:00.5Z") > at("2026-11-23T10:00:00Z"));
        assert_eq!(
            at("2026-11-23T10:00:00Z").plus_seconds(300),
            at("2026-11-23T10:05:00Z")
        );
        assert_eq!(
            at("2026-11-23T10:00:00Z").plus_seconds(-60),
            at("2026-11-23T09:59:00Z")
        );
    }

    #[test]
    fn anything_but_an_rfc_3339_date_time_is_refused_by_field() {
        for text in [
            "",
            "yesterday",
            "2026-11-23",
            "2026-11-23T10:00:00",
            "2026-11-23 10:00:00Z",
            "2026-11-23t10:00:00Z",
            "2026-11-23T10:00:00z",
            "2026-11-23X10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:00+1:00",
            "26-11-23T10:00:00Z",
            "2026-11-23T10:00:00Z ",
            "2026-11-23T10:00:00é",
        ] {
            let refused = Timestamp::parse("validUntil", text).unwrap_err();
            assert_eq!(refused.field, "validUntil", "{text:?}");
            assert!(
                refused.to_string().starts_with("field validUntil: "),
                "{refused}"
            );
        }
        let long = format!("2026-11-23T10:00:00.{}Z", "1".repeat(100_000));
        let refused = Timestamp::parse("created", &long).unwrap_err();
        assert!(refused.to_string().len() < 400, "{refused}");
    }

    #[test]
    fn a_date_that_is_not_a_string_is_an_error_not_a_missing_date() {
        assert_eq!(Timestamp::optional(&json!({}), "validUntil"), Ok(None));
        assert_eq!(
            Timestamp::optional(&json!({"validUntil": "2026-11-23T10:00:00Z"}), "validUntil"),
            Ok(Some(at("2026-11-23T10:00:00Z")))
        );
        for value in [
            json!(20261123),
            json!(null),
            json!(["2026-11-23T10:00:00Z"]),
            json!({}),
        ] {
            let refused =
                Timestamp::optional(&json!({ "validUntil": value }), "validUntil").unwrap_err();
            assert!(
                refused.problem.contains("must be a date-time string"),
                "{refused}"
            );
        }
    }
}
