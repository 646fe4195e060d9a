//! The crate-level invariant "no panic on any input file": truncated, random and hostile bytes fed
//! to the strict JSON reader and to every check of a document Hallmark verifies end in `Ok` or
//! `Err`, never in a panic (the test harness turns a panic into a failure).

use hallmark_core::credential;
use hallmark_core::json;

use crate::seeds::{KINDS, NOW};
use crate::{sealed, write_credential};

/// A fixed xorshift generator: the same "random" bytes on every run.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `len` bytes drawn from `alphabet` (all bytes when empty).
    fn take(&mut self, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                let n = self.next();
                if alphabet.is_empty() {
                    n.to_le_bytes()[0]
                } else {
                    alphabet[(n % alphabet.len() as u64) as usize]
                }
            })
            .collect()
    }
}

/// Inputs no document should be: random bytes, JSON-ish noise, and known troublemakers.
fn hostile_inputs() -> Vec<Vec<u8>> {
    let mut rng = Bytes(0x9e37_79b9_7f4a_7c15);
    let mut inputs = Vec::new();
    for len in [0, 1, 2, 7, 64, 300, 4096] {
        for _ in 0..20 {
            inputs.push(rng.take(len, b""));
            inputs.push(rng.take(len, br#"{}[]":,0123456789.eE+-truefalsnl\u "#));
        }
    }
    let nasty: [&[u8]; 12] = [
        b"{\"a\":1,\"a\":2}",
        b"[18446744073709551616, 1e400, -9007199254740993]",
        b"\xef\xbb\xbf{}",
        b"{\"a\": \"\\ud800\"}",
        b"{\"a\": \"\\u0000\"}",
        b"{\"proof\": []}",
        b"{\"proof\": {\"proofValue\": 5}}",
        b"{\"type\": {\"0\": \"VerifiableCredential\"}}",
        b"{\"verifiableCredential\": {}}",
        b"null",
        b"\"DatasetCredential\"",
        b"{\"@context\": null, \"proof\": {\"@context\": [1]}}",
    ];
    inputs.extend(nasty.iter().map(|b| b.to_vec()));
    inputs.push(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    inputs.push(format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes());
    inputs.push(format!("{{\"a\": \"{}\"}}", "x".repeat(1 << 20)).into_bytes());
    inputs
}

/// Every input: every truncation of every seed, and the hostile inputs.
fn every_input() -> Vec<Vec<u8>> {
    let mut inputs = hostile_inputs();
    for kind in KINDS {
        let seed = kind.seed();
        // Cut anywhere before the closing brace (the trailing newline alone may go).
        let body = seed.trim_ascii_end().len();
        inputs.extend((0..body).map(|n| seed[..n].to_vec()));
    }
    inputs
}

#[test]
fn no_input_panics_the_strict_reader_or_a_document_check() {
    for input in every_input() {
        let _ = json::from_slice(&input, 2 << 20);
        for kind in KINDS {
            // Truncated and random input is never a valid document.
            assert!(kind.accept(&input).is_err(), "{kind:?} accepted {input:?}");
        }
    }
}

#[test]
fn no_credential_json_panics_the_folder_check() {
    let s = sealed();
    let mut inputs = hostile_inputs();
    let seed = crate::seeds::Kind::DatasetCredential.seed();
    inputs.extend((0..seed.len()).step_by(7).map(|n| seed[..n].to_vec()));
    for input in inputs {
        write_credential(s.out.path(), &input);
        // Ok with differences, or an error about the folder: both fine, a panic is not.
        if let Ok(Some(report)) = credential::check(s.out.path(), NOW) {
            assert!(report.signer.is_none() || !report.differences.is_empty());
        }
    }
}
