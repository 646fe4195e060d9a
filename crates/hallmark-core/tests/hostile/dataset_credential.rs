//! `credential::check` on a sealed folder whose `credential.json` was changed by hand.

use hallmark_core::credential::{self, CREDENTIAL_FILE};
use hallmark_core::did::SigningIdentity;
use hallmark_core::integrity;
use serde_json::Value;

use crate::{sealed, write_credential};

const SIGNED_AT: &str = "2026-11-23T10:00:00Z";
const NOW: &str = "2026-11-23T10:00:00Z";

fn signed(key: &SigningIdentity) -> (crate::Sealed, Vec<u8>) {
    let s = sealed();
    credential::sign_dataset(s.out.path(), key, SIGNED_AT).unwrap();
    let bytes = std::fs::read(s.out.path().join(CREDENTIAL_FILE)).unwrap();
    (s, bytes)
}

/// `bytes` with `member` inserted first in the object that opens at the first occurrence of `at`.
fn insert_after(bytes: &[u8], at: &str, member: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let i = text.find(at).unwrap() + at.len();
    format!("{}{member},{}", &text[..i], &text[i..]).into_bytes()
}

#[test]
fn the_untouched_credential_checks_out() {
    let key = SigningIdentity::generate();
    let (s, _) = signed(&key);
    let found = credential::check(s.out.path(), NOW).unwrap().unwrap();
    assert!(found.differences.is_empty(), "{found:?}");
    assert_eq!(found.signer, Some(key.public().to_string()));
}

#[test]
fn a_duplicated_key_at_any_depth_is_refused_by_name() {
    let key = SigningIdentity::generate();
    let (s, bytes) = signed(&key);
    let stranger = SigningIdentity::generate().public().to_string();
    // serde_json keeps the last of two equal keys, so a first "issuer" would be ignored by us
    // and read by a first-wins parser.
    let top = insert_after(&bytes, "{", &format!("\"issuer\": \"{stranger}\""));
    let deep = insert_after(
        &bytes,
        "\"proof\": {",
        "\"proofPurpose\": \"authentication\"",
    );
    for (case, changed) in [("top level", top), ("inside proof", deep)] {
        write_credential(s.out.path(), &changed);
        let found = credential::check(s.out.path(), NOW).unwrap().unwrap();
        assert!(found.signer.is_none(), "{case}: {found:?}");
        let json = found
            .differences
            .iter()
            .find(|d| d.field == "json")
            .unwrap_or_else(|| panic!("{case}: {found:?}"));
        assert!(
            json.found.contains("twice")
                && (json.found.contains("issuer") || json.found.contains("proofPurpose")),
            "{case}: {json:?}"
        );
    }
}

#[test]
fn a_credential_that_is_not_a_dataset_credential_is_refused() {
    let key = SigningIdentity::generate();
    let (s, bytes) = signed(&key);
    let mut other: Value = serde_json::from_slice(&bytes).unwrap();
    other.as_object_mut().unwrap().remove("proof");
    other["type"] = serde_json::json!(["VerifiableCredential", "AlumniCredential"]);
    let resigned = integrity::sign(&other, &key, SIGNED_AT, "assertionMethod").unwrap();
    write_credential(s.out.path(), &serde_json::to_vec_pretty(&resigned).unwrap());
    let found = credential::check(s.out.path(), NOW).unwrap().unwrap();
    assert!(
        found.differences.iter().any(|d| d.field == "type"),
        "{found:?}"
    );
}

#[test]
fn the_proof_and_validity_are_judged_at_now() {
    let key = SigningIdentity::generate();
    let (s, _) = signed(&key);
    // An hour before signing: the proof was created in the future of that moment.
    let found = credential::check(s.out.path(), "2026-11-23T09:00:00Z")
        .unwrap()
        .unwrap();
    assert!(found.signer.is_none(), "{found:?}");
    assert!(
        found
            .differences
            .iter()
            .any(|d| d.found.contains("created")),
        "{found:?}"
    );
}

#[test]
fn an_oversized_credential_is_refused_before_parsing() {
    let key = SigningIdentity::generate();
    let (s, bytes) = signed(&key);
    let padding = format!("\"padding\": \"{}\"", "x".repeat(2 << 20));
    write_credential(s.out.path(), &insert_after(&bytes, "{", &padding));
    let found = credential::check(s.out.path(), NOW).unwrap().unwrap();
    let json = found
        .differences
        .iter()
        .find(|d| d.field == "json")
        .unwrap_or_else(|| panic!("{found:?}"));
    assert!(json.found.contains("bytes"), "{json:?}");
}
