//! Personal data in text files: e-mail addresses, phone numbers, payment card numbers and IBANs,
//! each found with its line and shown only masked.
//!
//! Candidates are found with byte regexes over the whole text (one pass per pattern, no per-line
//! work), then checked the way the numbers themselves are: card numbers by the Luhn digit and a
//! length of 13 to 19 digits, IBANs by their ISO 13616 checksum and country length
//! (`iban_validate`), phone numbers by libphonenumber's metadata (`phonenumber`). A value that
//! fails its check is not reported. A full value never leaves this module: excerpts carry masks.

use std::sync::LazyLock;

use regex::bytes::Regex;

/// What kind of personal data a match is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PersonalData {
    Email,
    Phone,
    PaymentCard,
    Iban,
}

impl PersonalData {
    /// The data in words, for findings.
    pub fn words(self) -> &'static str {
        match self {
            PersonalData::Email => "e-mail address",
            PersonalData::Phone => "phone number",
            PersonalData::PaymentCard => "payment card number",
            PersonalData::Iban => "bank account number (IBAN)",
        }
    }
}

/// One value found in a text, by line, with the line masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub kind: PersonalData,
    /// 1-based line number.
    pub line: u64,
    /// The line around the value with every value found on it masked, at most [`EXCERPT_CHARS`].
    pub excerpt: String,
}

/// The longest excerpt shown, in characters.
pub const EXCERPT_CHARS: usize = 80;

// ASCII classes and word boundaries (`-u`): the values are ASCII, and Unicode word boundaries
// would send every search to the slow engines.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)[a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9](?:[a-z0-9-]{0,62}\.)+[a-z]{2,24}\b")
        .unwrap_or_else(|e| unreachable!("{e}"))
});
// 13 to 19 digits, possibly grouped by single spaces or dashes.
static CARD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)\b\d(?:[ -]?\d){12,18}\b").unwrap_or_else(|e| unreachable!("{e}"))
});
// Country, check digits, then 11 to 30 letters or digits, possibly grouped by single spaces.
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
        .unwrap_or_else(|e| unreachable!("{e}"))
});
// International numbers (+ or 00), or North American ones written with separators: (415) 555-0132.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?-u)(?:\+|\b00)\d[\d ().-]{5,20}\d|\(\d{3}\) ?\d{3}[ .-]\d{4}\b|\b\d{3}[.-]\d{3}[.-]\d{4}\b",
    )
    .unwrap_or_else(|e| unreachable!("{e}"))
});

/// Every personal value in `text` (any bytes; not UTF-8 is read lossily per line).
pub fn find(text: &[u8]) -> Vec<Match> {
    let mut spans: Vec<(usize, usize, PersonalData)> = Vec::new();
    // Cards and IBANs first: their digit runs must not also be read as phone numbers.
    for m in CARD.find_iter(text) {
        if is_card(m.as_bytes()) {
            spans.push((m.start(), m.end(), PersonalData::PaymentCard));
        }
    }
    for m in IBAN.find_iter(text) {
        if is_iban(m.as_bytes()) {
            spans.push((m.start(), m.end(), PersonalData::Iban));
        }
    }
    let emails = memchr::memchr(b'@', text).map_or(&[][..], |_| text);
    for m in EMAIL.find_iter(emails) {
        spans.push((m.start(), m.end(), PersonalData::Email));
    }
    let taken = spans.clone();
    for m in PHONE.find_iter(text) {
        let overlaps = taken.iter().any(|&(s, e, _)| s < m.end() && m.start() < e);
        if !overlaps && is_phone(m.as_bytes()) {
            spans.push((m.start(), m.end(), PersonalData::Phone));
        }
    }
    spans.sort_unstable();
    let mut matches = Vec::with_capacity(spans.len());
    let mut line = 1u64;
    let mut counted_to = 0usize;
    for &(start, end, kind) in &spans {
        line += memchr::memchr_iter(b'\n', &text[counted_to..start]).count() as u64;
        counted_to = start;
        let line_start = memchr::memrchr(b'\n', &text[..start]).map_or(0, |i| i + 1);
        let line_end = memchr::memchr(b'\n', &text[end..]).map_or(text.len(), |i| end + i);
        let on_line: Vec<(usize, usize)> = spans
            .iter()
            .filter(|&&(s, e, _)| s >= line_start && e <= line_end)
            .map(|&(s, e, _)| (s - line_start, e - line_start))
            .collect();
        matches.push(Match {
            kind,
            line,
            excerpt: excerpt(
                &text[line_start..line_end],
                &on_line,
                start - line_start,
                end - line_start,
            ),
        });
    }
    matches
}

/// Whether a run of digits (with spaces or dashes) is a payment card number: 13 to 19 digits whose
/// Luhn check digit is right.
pub fn is_card(candidate: &[u8]) -> bool {
    let digits: Vec<u8> = candidate
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    luhn(&digits)
}

/// The Luhn check: from the right, every second digit doubled (less 9 past 9); the sum ends in 0.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether a candidate is an IBAN: known country, its length, and the ISO 7064 mod-97 checksum.
pub fn is_iban(candidate: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(candidate) else {
        return false;
    };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.parse::<iban::Iban>().is_ok()
}

/// Whether a candidate is a phone number libphonenumber holds valid: international numbers by
/// their country code, North American ones written with separators by the US/Canada plan.
pub fn is_phone(candidate: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(candidate) else {
        return false;
    };
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    let text = match text.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => text.to_owned(),
    };
    let region = if text.starts_with('+') {
        None
    } else {
        Some(phonenumber::country::Id::US)
    };
    phonenumber::parse(region, &text).is_ok_and(|n| phonenumber::is_valid(&n))
}

/// Masks a value: letters and digits become `*` except a few that let the creator recognise it
/// (an e-mail's first letter and top-level domain, a number's last two or four digits).
pub fn mask(kind: PersonalData, value: &str) -> String {
    match kind {
        PersonalData::Email => {
            let (local, domain) = value.split_once('@').unwrap_or((value, ""));
            let tld = domain.rsplit_once('.').map_or("", |(_, t)| t);
            let first = local.chars().next().unwrap_or('*');
            format!("{first}***@***.{tld}")
        }
        PersonalData::PaymentCard | PersonalData::Iban | PersonalData::Phone => {
            let keep = if kind == PersonalData::Phone { 2 } else { 4 };
            let shown = value.chars().filter(char::is_ascii_alphanumeric).count();
            let mut left = shown.saturating_sub(keep);
            // An IBAN keeps its country letters: they say which bank system, not whose account.
            let mut lead = if kind == PersonalData::Iban { 2 } else { 0 };
            value
                .chars()
                .map(|c| {
                    if !c.is_ascii_alphanumeric() {
                        c
                    } else if lead > 0 {
                        lead -= 1;
                        left -= 1;
                        c
                    } else if left > 0 {
                        left -= 1;
                        '*'
                    } else {
                        c
                    }
                })
                .collect()
        }
    }
}

/// The line around `start..end` with every span in `spans` masked and control characters escaped,
/// cut to [`EXCERPT_CHARS`] characters around the value.
fn excerpt(line: &[u8], spans: &[(usize, usize)], start: usize, end: usize) -> String {
    let mut out = String::new();
    let mut at = 0;
    let mut value_at = (0, 0);
    for &(s, e) in spans {
        if s < at {
            continue;
        }
        out.push_str(&printable(&line[at..s]));
        let kind_value = String::from_utf8_lossy(&line[s..e]);
        let kind = spans_kind(&kind_value);
        let masked = mask(kind, &kind_value);
        if s == start && e == end {
            value_at = (
                out.chars().count(),
                out.chars().count() + masked.chars().count(),
            );
        }
        out.push_str(&masked);
        at = e;
    }
    out.push_str(&printable(&line[at..]));
    let chars: Vec<char> = out.trim_end_matches('\r').chars().collect();
    if chars.len() <= EXCERPT_CHARS {
        return chars.into_iter().collect();
    }
    let room = EXCERPT_CHARS.saturating_sub(value_at.1 - value_at.0) / 2;
    let from = value_at.0.saturating_sub(room);
    let to = (from + EXCERPT_CHARS).min(chars.len());
    let mut cut: String = chars[from..to].iter().collect();
    if from > 0 {
        cut.insert(0, '…');
    }
    if to < chars.len() {
        cut.push('…');
    }
    cut
}

/// The kind of a span's text, for masking a neighbour on the same line.
fn spans_kind(value: &str) -> PersonalData {
    if value.contains('@') {
        PersonalData::Email
    } else if value.chars().take(2).all(|c| c.is_ascii_uppercase()) {
        PersonalData::Iban
    } else if value.starts_with('+') || value.starts_with('(') || value.starts_with("00") {
        PersonalData::Phone
    } else {
        PersonalData::PaymentCard
    }
}

/// Text for a terminal or a report: control characters escaped, invalid UTF-8 replaced.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() && c != '\t' {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PersonalData, u64)> {
        find(text.as_bytes())
            .into_iter()
            .map(|m| (m.kind, m.line))
            .collect()
    }

    #[test]
    fn luhn_accepts_valid_card_numbers_and_refuses_one_digit_off() {
        assert!(is_card(b"4111 1111 1111 1111"));
        assert!(is_card(b"5500-0000-0000-0004"));
        assert!(is_card(b"378282246310005"));
        assert!(!is_card(b"4111 1111 1111 1112"));
        assert!(!is_card(b"1234567890123"));
        // All one digit passes Luhn for some lengths but is no card.
        assert!(!is_card(b"0000000000000000"));
    }

    #[test]
    fn iban_checksum_and_length_are_checked() {
        assert!(is_iban(b"DE89 3704 0044 0532 0130 00"));
        assert!(is_iban(b"GB82WEST12345698765432"));
        assert!(!is_iban(b"DE89 3704 0044 0532 0130 01"));
        assert!(!is_iban(b"DE89 3704 0044 0532 0130"));
    }

    #[test]
    fn phone_numbers_are_checked_against_the_numbering_plan() {
        assert!(is_phone(b"+44 20 7946 0958"));
        assert!(is_phone(b"0044 20 7946 0958"));
        assert!(is_phone(b"(415) 555-2671"));
        assert!(is_phone(b"+33 1 42 68 53 00"));
        // No country has numbers like these.
        assert!(!is_phone(b"+999 123 4567"));
        assert!(!is_phone(b"+1 000 000 0000"));
    }

    #[test]
    fn finds_each_kind_with_its_line_and_not_the_invalid_card() {
        let text = "hello\nwrite to jane.doe@example.org today\ncall +44 20 7946 0958\n\
                    card 4111 1111 1111 1111 ok\nnot a card 4111 1111 1111 1112\n\
                    IBAN DE89 3704 0044 0532 0130 00\ndate 2024-05-01, id 12345\n";
        assert_eq!(
            kinds(text),
            vec![
                (PersonalData::Email, 2),
                (PersonalData::Phone, 3),
                (PersonalData::PaymentCard, 4),
                (PersonalData::Iban, 6),
            ]
        );
    }

    #[test]
    fn excerpts_never_hold_the_full_value() {
        let text = "jane.doe@example.org, 4111 1111 1111 1111 and +44 20 7946 0958 on one line";
        let found = find(text.as_bytes());
        assert_eq!(found.len(), 3);
        for m in &found {
            assert!(!m.excerpt.contains("jane.doe"), "{}", m.excerpt);
            assert!(!m.excerpt.contains("example"), "{}", m.excerpt);
            assert!(!m.excerpt.contains("4111 1111"), "{}", m.excerpt);
            assert!(!m.excerpt.contains("7946"), "{}", m.excerpt);
            assert!(m.excerpt.contains("j***@***.org"), "{}", m.excerpt);
            assert!(m.excerpt.contains("**** **** **** 1111"), "{}", m.excerpt);
            assert!(m.excerpt.contains("+** ** **** **58"), "{}", m.excerpt);
        }
    }

    #[test]
    fn masks_keep_only_what_lets_the_creator_recognise_the_value() {
        assert_eq!(
            mask(PersonalData::Email, "jane@example.org"),
            "j***@***.org"
        );
        assert_eq!(
            mask(PersonalData::PaymentCard, "4111-1111-1111-1111"),
            "****-****-****-1111"
        );
        assert_eq!(
            mask(PersonalData::Iban, "DE89 3704 0044 0532 0130 00"),
            "DE** **** **** **** **30 00"
        );
        assert_eq!(
            mask(PersonalData::Phone, "+44 20 7946 0958"),
            "+** ** **** **58"
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_value_and_control_characters_escaped() {
        let text = format!(
            "{}\u{1b}[2J mail me: ann@example.com {}",
            "x".repeat(200),
            "y".repeat(200)
        );
        let found = find(text.as_bytes());
        assert_eq!(found.len(), 1);
        let excerpt = &found[0].excerpt;
        assert!(excerpt.chars().count() <= EXCERPT_CHARS + 2, "{excerpt}");
        assert!(excerpt.contains("a***@***.com"), "{excerpt}");
        assert!(!excerpt.contains('\u{1b}'));
    }
}
