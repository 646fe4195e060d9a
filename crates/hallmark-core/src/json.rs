//! Strict JSON for the documents Hallmark verifies (credentials, presentations, manifests).
//!
//! `serde_json` alone accepts what a signature check must not: of two equal keys it keeps the last,
//! so `{"validUntil": "2020-…", "validUntil": "2099-…"}` reads as valid to us and as expired to a
//! first-wins parser; integers beyond 2^53 are canonicalised (JCS) differently by other
//! implementations. [`from_slice`] refuses both, caps the size before reading a byte and caps the
//! nesting depth, and otherwise builds the same `Value` (keys in document order). It is serde's own
//! parser with a visitor that checks as it builds, not a parser of its own.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The deepest nesting of objects and arrays accepted. Hallmark's documents are under ten deep;
/// the cap keeps recursion (parsing, canonicalising, dropping) far from the stack's limit.
pub const MAX_DEPTH: usize = 32;

/// The largest integer JSON carries exactly everywhere (I-JSON, RFC 7493; JCS, RFC 8785): 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a document is not strict JSON. The message says what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    #[error(
        "the document is larger than {max} bytes, more than any Hallmark writes; it was not read"
    )]
    TooLarge { max: usize },
    #[error(
        "key {key:?} appears twice in the object at {at}; a signed document must name each key once, remove one"
    )]
    DuplicateKey { key: String, at: String },
    #[error(
        "the number {number} at {at} is a whole number beyond ±(2^53−1), which JSON does not carry exactly (RFC 7493); write it as a string"
    )]
    UnsafeInteger { number: String, at: String },
    #[error("{at} is nested more than {max} levels deep; Hallmark's documents are shallow")]
    TooDeep { at: String, max: usize },
    #[error("not JSON: {0}")]
    Syntax(String),
}

/// Parses `bytes` as one strict JSON value of at most `max_bytes` bytes (checked before parsing):
/// no key twice in an object (at any depth), no whole number beyond ±(2^53−1), at most
/// [`MAX_DEPTH`] levels of nesting, nothing after the value but whitespace. Keys keep their order.
pub fn from_slice(bytes: &[u8], max_bytes: usize) -> Result<Value, JsonError> {
    if bytes.len() > max_bytes {
        return Err(JsonError::TooLarge { max: max_bytes });
    }
    let context = Context::default();
    let mut parser = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict {
        context: &context,
        depth: 0,
    }
    .deserialize(&mut parser)
    .and_then(|value| parser.end().map(|()| value));
    parsed.map_err(|e| match context.refused.take() {
        Some((problem, path)) => {
            let at = format!(
                "{} (line {}, column {})",
                describe(&path),
                e.line(),
                e.column()
            );
            match problem {
                Problem::DuplicateKey(key) => JsonError::DuplicateKey { key, at },
                Problem::UnsafeInteger(number) => JsonError::UnsafeInteger { number, at },
                Problem::TooDeep => JsonError::TooDeep { at, max: MAX_DEPTH },
            }
        }
        None => JsonError::Syntax(e.to_string()),
    })
}

/// At most `max` characters of `text`, marked when cut: error messages quote input, never all of it.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// One step from the document's root to a value.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Debug)]
enum Problem {
    DuplicateKey(String),
    UnsafeInteger(String),
    TooDeep,
}

/// Shared by every level of one parse: where the parser is, and why it stopped if the visitor
/// refused (serde carries only a message up; the structured reason waits here).
#[derive(Debug, Default)]
struct Context {
    path: RefCell<Vec<Segment>>,
    refused: RefCell<Option<(Problem, Vec<Segment>)>>,
}

/// "the top level", or a path such as `credentialSubject.consent` or `verifiableCredential[1].proof`.
fn describe(path: &[Segment]) -> String {
    if path.is_empty() {
        return "the top level".to_owned();
    }
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(&excerpt(key, 60));
            }
            Segment::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// The visitor (and seed) that builds a `Value` one level at a time, refusing as it goes.
#[derive(Clone, Copy)]
struct Strict<'c> {
    context: &'c Context,
    depth: usize,
}

impl Strict<'_> {
    fn refuse<E: de::Error>(self, problem: Problem) -> E {
        let path = self.context.path.borrow().clone();
        *self.context.refused.borrow_mut() = Some((problem, path));
        E::custom("refused by the strict reader")
    }

    /// The seed for a value one level further in, or a refusal when that is too deep.
    fn deeper<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_DEPTH {
            return Err(self.refuse(Problem::TooDeep));
        }
        Ok(Strict {
            context: self.context,
            depth: self.depth + 1,
        })
    }

    fn whole_number<E: de::Error>(self, number: Number, within: bool) -> Result<Value, E> {
        if within {
            Ok(Value::Number(number))
        } else {
            Err(self.refuse(Problem::UnsafeInteger(number.to_string())))
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.whole_number(v.into(), v <= MAX_SAFE_INTEGER)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.whole_number(v.into(), v.unsigned_abs() <= MAX_SAFE_INTEGER)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // Integers too long for u64/i64 arrive here as floats, and so does 1e300: a whole number
        // beyond 2^53 is refused whatever its spelling, as JCS would print it as digits.
        let beyond = v.fract() == 0.0 && v.abs() > MAX_SAFE_INTEGER as f64;
        match Number::from_f64(v) {
            Some(number) => self.whole_number(number, !beyond),
            None => Err(E::custom("a number that is not finite")),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::new();
        loop {
            self.context
                .path
                .borrow_mut()
                .push(Segment::Index(items.len()));
            let item = seq.next_element_seed(inner)?;
            self.context.path.borrow_mut().pop();
            match item {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(self.refuse(Problem::DuplicateKey(excerpt(&key, 60))));
            }
            // The key waits on the path while its value is read, then moves into the object.
            self.context.path.borrow_mut().push(Segment::Key(key));
            let value = map.next_value_seed(inner)?;
            match self.context.path.borrow_mut().pop() {
                Some(Segment::Key(key)) => object.insert(key, value),
                _ => return Err(de::Error::custom("the strict reader lost its place")),
            };
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(text: &str) -> Result<Value, JsonError> {
        from_slice(text.as_bytes(), 1 << 20)
    }

    #[test]
    fn a_plain_document_reads_as_serde_json_reads_it_in_the_same_key_order() {
        let text = r#"{"z": 1, "a": [true, null, -2, 1.5, "é\u00e9"], "m": {"y": {}, "b": []}}"#;
        let value = strict(text).unwrap();
        assert_eq!(value, serde_json::from_str::<Value>(text).unwrap());
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            r#"{"z":1,"a":[true,null,-2,1.5,"éé"],"m":{"y":{},"b":[]}}"#
        );
    }

    #[test]
    fn a_key_twice_is_refused_at_any_depth_naming_the_key_and_where() {
        let top = strict(
            r#"{"validUntil": "2020-01-01T00:00:00Z", "validUntil": "2099-01-01T00:00:00Z"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&top, JsonError::DuplicateKey { key, at } if key == "validUntil" && at.starts_with("the top level")),
            "{top}"
        );
        assert!(
            top.to_string().contains("\"validUntil\" appears twice"),
            "{top}"
        );
        let deep = strict(r#"{"a": [{"b": {"c": 1, "d": 2, "c": 3}}]}"#).unwrap_err();
        assert!(
            matches!(&deep, JsonError::DuplicateKey { key, at } if key == "c" && at.starts_with("a[0].b ")),
            "{deep}"
        );
        // The same key in different objects is fine.
        strict(r#"{"a": {"id": 1}, "b": {"id": 1}, "id": 2}"#).unwrap();
        // Escapes are compared after decoding: "\u0061" is "a".
        assert!(matches!(
            strict(r#"{"a": 1, "\u0061": 2}"#),
            Err(JsonError::DuplicateKey { .. })
        ));
    }

    #[test]
    fn whole_numbers_beyond_2_pow_53_are_refused_however_spelled() {
        strict("[9007199254740991, -9007199254740991, 1.5, 1e-300, 0.1]").unwrap();
        for text in [
            r#"{"n": 9007199254740992}"#,
            r#"{"n": -9007199254740992}"#,
            r#"{"n": 18446744073709551616}"#,
            r#"{"n": 123456789012345678901234567890}"#,
            r#"{"n": 1e300}"#,
            r#"{"n": 9007199254740993.0}"#,
        ] {
            let refused = strict(text).unwrap_err();
            assert!(
                matches!(&refused, JsonError::UnsafeInteger { at, .. } if at.starts_with("n ")),
                "{text}: {refused}"
            );
        }
        assert!(matches!(strict("[1e400]"), Err(JsonError::Syntax(_))));
    }

    #[test]
    fn nesting_is_capped_and_deep_input_does_not_overflow_the_stack() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        strict(&ok).unwrap();
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            strict(&deep),
            Err(JsonError::TooDeep { max: MAX_DEPTH, .. })
        ));
        let objects = format!("{}1{}", r#"{"k":"#.repeat(100_000), "}".repeat(100_000));
        assert!(matches!(strict(&objects), Err(JsonError::TooDeep { .. })));
        assert!(strict(&"[".repeat(1 << 19)).is_err());
    }

    #[test]
    fn the_size_is_checked_before_parsing() {
        let text = br#"{"a": "bcdefghij"}"#;
        assert_eq!(
            from_slice(text, text.len() - 1),
            Err(JsonError::TooLarge {
                max: text.len() - 1
            })
        );
        from_slice(text, text.len()).unwrap();
        // Not even looked at: these bytes are not JSON.
        assert!(matches!(
            from_slice(&[0xff; 100], 99),
            Err(JsonError::TooLarge { .. })
        ));
    }

    #[test]
    fn anything_but_one_json_value_is_a_syntax_error() {
        for text in [
            "",
            " ",
            "{",
            r#"{"a": 1} {"b": 2}"#,
            r#"{"a": 1,}"#,
            "\u{feff}{}",
            r#"{"a": "\ud800"}"#,
            "NaN",
            "{'a': 1}",
        ] {
            assert!(
                matches!(strict(text), Err(JsonError::Syntax(_))),
                "{text:?}: {:?}",
                strict(text)
            );
        }
        assert!(matches!(
            from_slice(b"{\"a\": \"\xff\"}", 100),
            Err(JsonError::Syntax(_))
        ));
        strict(" {} \n").unwrap();
    }

    #[test]
    fn an_excerpt_cuts_long_text_on_a_character_boundary() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("ééééé", 2), "éé… (10 bytes in all)");
    }
}
