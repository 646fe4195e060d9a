//! W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite: sign and verify JSON documents.
//!
//! Create: the proof options (with the document's `@context`) and the document without `proof` are
//! each canonicalised with JCS (RFC 8785) and hashed with SHA-256; Ed25519 signs proof hash ‖
//! document hash; `proofValue` is `z` + base58btc(signature). Verify reverses it, after checking
//! that the document's `@context` starts with the proof's.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::did::{PublicIdentity, SigningIdentity};

pub const PROOF_TYPE: &str = "DataIntegrityProof";
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";

/// Why a proof does not verify, in terms a report can show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    #[error("the document is not a JSON object")]
    NotAnObject,
    #[error("the document has no proof")]
    MissingProof,
    #[error("the document already has a proof; remove it before signing again")]
    AlreadySigned,
    #[error("proof field {field}: expected {expected}, found {found}")]
    Field {
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("proof field proofValue is not a base58btc Ed25519 signature")]
    BadProofValue,
    #[error("the document's @context does not start with the proof's @context")]
    ContextMismatch,
    #[error("proof field verificationMethod: {0}")]
    VerificationMethod(String),
    #[error("the signature does not match: the document or its proof changed after signing")]
    BadSignature,
    #[error("cannot canonicalise the document: {0}")]
    Canonicalisation(String),
}

/// What a valid proof says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    pub signer: PublicIdentity,
    pub created: Option<String>,
    pub proof_purpose: String,
    /// The `challenge` proof option, as presentations carry it.
    pub challenge: Option<String>,
    /// The `domain` proof option.
    pub domain: Option<String>,
}

/// The JCS (RFC 8785) form of a JSON value.
pub fn canonical(value: &Value) -> Result<String, ProofError> {
    serde_json_canonicalizer::to_string(value)
        .map_err(|e| ProofError::Canonicalisation(e.to_string()))
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The 64 bytes Ed25519 signs: SHA-256(JCS(proof options)) ‖ SHA-256(JCS(document)).
pub fn signing_input(
    document: &Map<String, Value>,
    proof_options: &Map<String, Value>,
) -> Result<[u8; 64], ProofError> {
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(&sha256(&canonical(&Value::Object(proof_options.clone()))?));
    input[32..].copy_from_slice(&sha256(&canonical(&Value::Object(document.clone()))?));
    Ok(input)
}

/// The proof options (the proof without `proofValue`) for `document`, signed by `key`.
pub fn proof_options(
    document: &Map<String, Value>,
    key: &SigningIdentity,
    created: &str,
    purpose: &str,
) -> Map<String, Value> {
    let mut options = Map::new();
    options.insert("type".into(), PROOF_TYPE.into());
    options.insert("cryptosuite".into(), CRYPTOSUITE.into());
    options.insert("created".into(), created.into());
    options.insert(
        "verificationMethod".into(),
        key.public().verification_method().into(),
    );
    options.insert("proofPurpose".into(), purpose.into());
    if let Some(context) = document.get("@context") {
        options.insert("@context".into(), context.clone());
    }
    options
}

/// Signs `document`, returning it with an `eddsa-jcs-2022` proof. `created` is passed in (an
/// XML Schema dateTime such as `2026-11-23T10:00:00Z`), as the core does not read the clock.
pub fn sign(
    document: &Value,
    key: &SigningIdentity,
    created: &str,
    purpose: &str,
) -> Result<Value, ProofError> {
    sign_with(document, key, created, purpose, Map::new())
}

/// Like [`sign`], with further proof options (such as `challenge` and `domain`) covered by the signature.
pub fn sign_with(
    document: &Value,
    key: &SigningIdentity,
    created: &str,
    purpose: &str,
    extra: Map<String, Value>,
) -> Result<Value, ProofError> {
    let document = document.as_object().ok_or(ProofError::NotAnObject)?;
    if document.contains_key("proof") {
        return Err(ProofError::AlreadySigned);
    }
    let mut proof = proof_options(document, key, created, purpose);
    proof.extend(extra);
    let signature = key.sign(&signing_input(document, &proof)?);
    proof.insert(
        "proofValue".into(),
        format!("z{}", bs58::encode(signature.to_bytes()).into_string()).into(),
    );
    let mut secured = document.clone();
    secured.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(secured))
}

fn expect_text(
    proof: &Map<String, Value>,
    field: &'static str,
    expected: &str,
) -> Result<(), ProofError> {
    match proof.get(field).and_then(Value::as_str) {
        Some(found) if found == expected => Ok(()),
        found => Err(ProofError::Field {
            field,
            expected: expected.to_owned(),
            found: format!("{found:?}"),
        }),
    }
}

/// Verifies the `eddsa-jcs-2022` proof of `secured` and says who signed it.
pub fn verify(secured: &Value) -> Result<VerifiedProof, ProofError> {
    let secured = secured.as_object().ok_or(ProofError::NotAnObject)?;
    let proof = secured.get("proof").ok_or(ProofError::MissingProof)?;
    let proof = proof.as_object().ok_or(ProofError::MissingProof)?;
    expect_text(proof, "type", PROOF_TYPE)?;
    expect_text(proof, "cryptosuite", CRYPTOSUITE)?;
    let proof_purpose = proof
        .get("proofPurpose")
        .and_then(Value::as_str)
        .ok_or(ProofError::Field {
            field: "proofPurpose",
            expected: "a purpose".into(),
            found: "nothing".into(),
        })?
        .to_owned();
    let value = proof
        .get("proofValue")
        .and_then(Value::as_str)
        .ok_or(ProofError::BadProofValue)?;
    let bytes = bs58::decode(value.strip_prefix('z').ok_or(ProofError::BadProofValue)?)
        .into_vec()
        .map_err(|_| ProofError::BadProofValue)?;
    let signature =
        ed25519_dalek::Signature::from_slice(&bytes).map_err(|_| ProofError::BadProofValue)?;
    let method = proof
        .get("verificationMethod")
        .and_then(Value::as_str)
        .ok_or_else(|| ProofError::VerificationMethod("missing".into()))?;
    let signer: PublicIdentity = method
        .parse()
        .map_err(|e: crate::did::DidError| ProofError::VerificationMethod(e.to_string()))?;

    let mut document = secured.clone();
    document.remove("proof");
    let mut options = proof.clone();
    options.remove("proofValue");
    if let Some(context) = options.get("@context") {
        let doc_context = document.get("@context").and_then(Value::as_array);
        let starts = match (doc_context, context.as_array()) {
            (Some(doc), Some(proof)) => doc.starts_with(proof),
            (Some(doc), None) => doc.first() == Some(context),
            _ => document.get("@context") == Some(context),
        };
        if !starts {
            return Err(ProofError::ContextMismatch);
        }
    }
    let input = signing_input(&document, &options)?;
    signer
        .key()
        .verify_strict(&input, &signature)
        .map_err(|_| ProofError::BadSignature)?;
    Ok(VerifiedProof {
        signer,
        created: options
            .get("created")
            .and_then(Value::as_str)
            .map(str::to_owned),
        proof_purpose,
        challenge: options
            .get("challenge")
            .and_then(Value::as_str)
            .map(str::to_owned),
        domain: options
            .get("domain")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vc-di-eddsa");

    fn vector(name: &str) -> String {
        std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap()
    }

    fn w3c_key() -> SigningIdentity {
        let pair: Value = serde_json::from_str(&vector("keyPair.json")).unwrap();
        SigningIdentity::from_multibase(pair["privateKeyMultibase"].as_str().unwrap()).unwrap()
    }

    fn unsigned() -> Map<String, Value> {
        serde_json::from_str(&vector("unsigned.json")).unwrap()
    }

    #[test]
    fn reproduces_every_w3c_eddsa_jcs_2022_vector_byte_for_byte() {
        let key = w3c_key();
        let document = unsigned();
        let created = "2023-02-24T23:36:38Z";
        assert_eq!(
            canonical(&Value::Object(document.clone())).unwrap(),
            vector("eddsa-jcs-2022/canonDocJCS.txt")
        );
        let doc_hash = hex::encode(sha256(
            &canonical(&Value::Object(document.clone())).unwrap(),
        ));
        assert_eq!(doc_hash, vector("eddsa-jcs-2022/docHashJCS.txt"));

        let options = proof_options(&document, &key, created, "assertionMethod");
        let config_pretty = serde_json::to_string_pretty(&options).unwrap();
        assert_eq!(config_pretty, vector("eddsa-jcs-2022/proofConfigJCS.json"));
        assert_eq!(
            canonical(&Value::Object(options.clone())).unwrap(),
            vector("eddsa-jcs-2022/proofCanonJCS.txt")
        );
        let proof_hash = hex::encode(sha256(&canonical(&Value::Object(options.clone())).unwrap()));
        assert_eq!(proof_hash, vector("eddsa-jcs-2022/proofHashJCS.txt"));

        let input = signing_input(&document, &options).unwrap();
        assert_eq!(
            hex::encode(input),
            vector("eddsa-jcs-2022/combinedHashJCS.txt")
        );
        let signature = key.sign(&input);
        assert_eq!(
            hex::encode(signature.to_bytes()),
            vector("eddsa-jcs-2022/sigHexJCS.txt")
        );
        assert_eq!(
            format!("z{}", bs58::encode(signature.to_bytes()).into_string()),
            vector("eddsa-jcs-2022/sigBTC58JCS.txt")
        );

        let signed = sign(&Value::Object(document), &key, created, "assertionMethod").unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&signed).unwrap(),
            vector("eddsa-jcs-2022/signedJCS.json")
        );
    }

    #[test]
    fn verifies_the_w3c_signed_example() {
        let signed: Value = serde_json::from_str(&vector("eddsa-jcs-2022/signedJCS.json")).unwrap();
        let verified = verify(&signed).unwrap();
        assert_eq!(verified.signer, w3c_key().public());
        assert_eq!(verified.created.as_deref(), Some("2023-02-24T23:36:38Z"));
    }

    #[test]
    fn any_changed_field_of_document_or_proof_fails_with_the_right_reason() {
        let signed: Value = serde_json::from_str(&vector("eddsa-jcs-2022/signedJCS.json")).unwrap();
        let tamper = |path: &[&str], value: Value| {
            let mut copy = signed.clone();
            let mut at = &mut copy;
            for key in &path[..path.len() - 1] {
                at = &mut at[*key];
            }
            at[path[path.len() - 1]] = value;
            verify(&copy)
        };
        assert_eq!(
            tamper(&["credentialSubject", "alumniOf"], "Elsewhere".into()),
            Err(ProofError::BadSignature)
        );
        assert_eq!(
            tamper(&["proof", "created"], "2024-01-01T00:00:00Z".into()),
            Err(ProofError::BadSignature)
        );
        assert_eq!(
            tamper(&["proof", "proofPurpose"], "authentication".into()),
            Err(ProofError::BadSignature)
        );
        assert!(matches!(
            tamper(&["proof", "cryptosuite"], "eddsa-rdfc-2022".into()),
            Err(ProofError::Field {
                field: "cryptosuite",
                ..
            })
        ));
        assert!(matches!(
            tamper(&["proof", "type"], "Ed25519Signature2020".into()),
            Err(ProofError::Field { field: "type", .. })
        ));
        assert_eq!(
            tamper(&["proof", "proofValue"], "z111".into()),
            Err(ProofError::BadProofValue)
        );
        let other = SigningIdentity::generate().public().verification_method();
        assert_eq!(
            tamper(&["proof", "verificationMethod"], other.into()),
            Err(ProofError::BadSignature)
        );
        assert_eq!(
            tamper(
                &["@context"],
                serde_json::json!(["https://www.w3.org/ns/credentials/v2"])
            ),
            Err(ProofError::ContextMismatch)
        );
        let mut no_proof = signed.clone();
        no_proof.as_object_mut().unwrap().remove("proof");
        assert_eq!(verify(&no_proof), Err(ProofError::MissingProof));
    }

    #[test]
    fn a_fresh_key_signs_and_verifies_and_refuses_to_sign_twice() {
        let key = SigningIdentity::generate();
        let signed = sign(
            &Value::Object(unsigned()),
            &key,
            "2026-11-23T10:00:00Z",
            "assertionMethod",
        )
        .unwrap();
        assert_eq!(verify(&signed).unwrap().signer, key.public());
        assert_eq!(
            sign(&signed, &key, "2026-11-23T10:00:00Z", "assertionMethod"),
            Err(ProofError::AlreadySigned)
        );
    }
}
