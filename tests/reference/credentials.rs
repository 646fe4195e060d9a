//! An independent eddsa-jcs-2022 verifier (Python, from the specification) and ours agree both ways.

use std::path::Path;

use hallmark_core::credential::{self, CREDENTIAL_FILE};
use hallmark_core::did::SigningIdentity;

use crate::fixture;

#[test]
fn the_independent_verifier_accepts_our_dataset_credential_and_rejects_a_changed_one() {
    let s = fixture::seal_and_export(fixture::creator_folder());
    let key = SigningIdentity::generate();
    credential::sign_dataset(s.out.path(), &key, "2026-11-23T10:00:00Z").unwrap();
    let path = s.out.path().join(CREDENTIAL_FILE);
    let verdict = fixture::python("di_independent.py", &[Path::new("verify"), &path]);
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["signer"], key.public().to_string());

    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("CC-BY-4.0", "CC0-1.0");
    std::fs::write(&path, text).unwrap();
    let verdict = fixture::python("di_independent.py", &[Path::new("verify"), &path]);
    assert_eq!(verdict["valid"], false, "{verdict}");
}

#[test]
fn the_independent_verifier_accepts_the_w3c_signed_example() {
    let vector = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/hallmark-core/testdata/vc-di-eddsa/eddsa-jcs-2022/signedJCS.json");
    let verdict = fixture::python("di_independent.py", &[Path::new("verify"), &vector]);
    assert_eq!(verdict["valid"], true, "{verdict}");
}

#[test]
fn we_accept_a_credential_the_independent_implementation_signed() {
    let signed = fixture::python(
        "di_independent.py",
        &[Path::new("sign"), Path::new("2026-11-23T10:00:00Z")],
    );
    let expected = hallmark_core::integrity::ProofExpectation::assertion("2026-11-23T10:00:00Z");
    let proof = hallmark_core::integrity::verify(&signed, &expected).unwrap();
    assert_eq!(proof.signer.to_string(), signed["issuer"].as_str().unwrap());
    let mut changed = signed.clone();
    changed["credentialSubject"]["note"] = "changed".into();
    assert!(hallmark_core::integrity::verify(&changed, &expected).is_err());
}
