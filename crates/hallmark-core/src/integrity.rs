//! W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite: sign and verify JSON documents.
//!
//! Create: the proof options (with the document's `@context`) and the document without `proof` are
//! each canonicalised with JCS (RFC 8785) and hashed with SHA-256; Ed25519 signs proof hash ‖
//! document hash; `proofValue` is `z` + base58btc(signature). Verify reverses it, after checking
//! that the document's `@context` starts with the proof's, that the proof is for the purpose the
//! caller expects, and that it was not made later than the caller's `now` (give or take
//! [`CLOCK_SKEW_SECONDS`]). Verify takes a parsed `Value`: parse what arrives with
//! [`crate::json::from_slice`], which refuses duplicate keys and other ambiguities first.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::datetime::{DateError, Timestamp, kind};
use crate::did::{PublicIdentity, SigningIdentity};

pub const PROOF_TYPE: &str = "DataIntegrityProof";
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// The proof purpose of a credential: its issuer asserts what it says.
pub const ASSERTION_METHOD: &str = "assertionMethod";
/// The proof purpose of a presentation: its holder proves who it is (over a challenge).
pub const AUTHENTICATION: &str = "authentication";

/// How far in the future of `now` a proof's `created` may be: another machine's clock may run a
/// little ahead of the checker's, so a proof made "just now" elsewhere still verifies.
pub const CLOCK_SKEW_SECONDS: i64 = 5 * 60;

/// The longest `proofValue` decoded: `z` and the base58btc form of a 64-byte Ed25519 signature,
/// which is at most 88 characters. Decoding base58 takes time quadratic in its length, so anything
/// longer is refused before decoding.
pub const MAX_PROOF_VALUE_CHARS: usize = 1 + 88;

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
    #[error(
        "proof field proofValue is not a base58btc Ed25519 signature (z and at most 88 base58 characters)"
    )]
    BadProofValue,
    #[error(
        "proof field proofValue is {length} characters long, too long for an Ed25519 signature (at most {max}); it was not decoded"
    )]
    ProofValueTooLong { length: usize, max: usize },
    #[error("the document's @context does not start with the proof's @context")]
    ContextMismatch,
    #[error("proof field verificationMethod: {0}")]
    VerificationMethod(String),
    #[error("the signature does not match: the document or its proof changed after signing")]
    BadSignature,
    #[error("cannot canonicalise the document: {0}")]
    Canonicalisation(String),
    /// A date in the proof (or the `now` it is judged at) is missing or not an RFC 3339 date-time.
    #[error("{0}")]
    Date(#[from] DateError),
    #[error(
        "proof field created: {created} is later than now ({now}) by more than the {CLOCK_SKEW_SECONDS} seconds clocks may differ; check the signer's clock, or sign again"
    )]
    CreatedInFuture { created: String, now: String },
    #[error("proof field expires: the proof expired at {expires}; ask its signer for a new one")]
    ProofExpired { expires: String },
}

/// What the caller expects of a proof: the purpose it must have been made for ([`ASSERTION_METHOD`]
/// for credentials, [`AUTHENTICATION`] for presentations) and the time it is judged at (RFC 3339,
/// passed in: the core never reads the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofExpectation<'a> {
    pub purpose: &'a str,
    pub now: &'a str,
}

impl<'a> ProofExpectation<'a> {
    /// A credential's proof (`assertionMethod`), judged at `now`.
    pub fn assertion(now: &'a str) -> Self {
        Self {
            purpose: ASSERTION_METHOD,
            now,
        }
    }

    /// A presentation's proof (`authentication`), judged at `now`.
    pub fn authentication(now: &'a str) -> Self {
        Self {
            purpose: AUTHENTICATION,
            now,
        }
    }
}

/// What a valid proof says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    pub signer: PublicIdentity,
    /// When the proof says it was made (not later than `now` plus the clock skew).
    pub created: String,
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

/// `value` as a message shows it: a short quoted string, or what kind of value it is.
fn found(value: Option<&Value>) -> String {
    match value {
        None => "nothing".to_owned(),
        Some(Value::String(text)) => format!("{:?}", crate::json::excerpt(text, 80)),
        Some(other) => kind(other).to_owned(),
    }
}

fn expect_text(
    proof: &Map<String, Value>,
    field: &'static str,
    expected: &str,
) -> Result<(), ProofError> {
    match proof.get(field) {
        Some(Value::String(text)) if text == expected => Ok(()),
        other => Err(ProofError::Field {
            field,
            expected: expected.to_owned(),
            found: found(other),
        }),
    }
}

/// The optional string proof option `field`; anything but a string there is an error.
fn optional_text(
    proof: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ProofError> {
    match proof.get(field) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        other => Err(ProofError::Field {
            field,
            expected: "a string".into(),
            found: found(other),
        }),
    }
}

/// The Ed25519 signature in `proofValue`, its length checked before base58 decoding.
fn signature(proof: &Map<String, Value>) -> Result<ed25519_dalek::Signature, ProofError> {
    let value = proof
        .get("proofValue")
        .and_then(Value::as_str)
        .ok_or(ProofError::BadProofValue)?;
    if value.len() > MAX_PROOF_VALUE_CHARS {
        return Err(ProofError::ProofValueTooLong {
            length: value.len(),
            max: MAX_PROOF_VALUE_CHARS,
        });
    }
    let bytes = bs58::decode(value.strip_prefix('z').ok_or(ProofError::BadProofValue)?)
        .into_vec()
        .map_err(|_| ProofError::BadProofValue)?;
    ed25519_dalek::Signature::from_slice(&bytes).map_err(|_| ProofError::BadProofValue)
}

/// Verifies the `eddsa-jcs-2022` proof of `secured` and says who signed it.
///
/// Refused: a proof of another type or cryptosuite; made for another purpose than
/// `expected.purpose`; without a `created` date-time, or created more than [`CLOCK_SKEW_SECONDS`]
/// after `expected.now`; past its `expires`; with a `proofValue` or key text too long to be
/// Ed25519 (before decoding); whose signature does not match. Which issuer or holder the signer
/// must be is the caller's to check.
pub fn verify(
    secured: &Value,
    expected: &ProofExpectation<'_>,
) -> Result<VerifiedProof, ProofError> {
    let now = Timestamp::parse("now", expected.now)?;
    let secured = secured.as_object().ok_or(ProofError::NotAnObject)?;
    let proof = secured.get("proof").ok_or(ProofError::MissingProof)?;
    let proof = proof.as_object().ok_or_else(|| ProofError::Field {
        field: "proof",
        expected: "one proof object".into(),
        found: found(Some(proof)),
    })?;
    expect_text(proof, "type", PROOF_TYPE)?;
    expect_text(proof, "cryptosuite", CRYPTOSUITE)?;
    expect_text(proof, "proofPurpose", expected.purpose)?;
    let created = match proof.get("created") {
        Some(Value::String(text)) => text.clone(),
        other => {
            return Err(ProofError::Field {
                field: "created",
                expected: "an RFC 3339 date-time string".into(),
                found: found(other),
            });
        }
    };
    if Timestamp::parse("created", &created)? > now.plus_seconds(CLOCK_SKEW_SECONDS) {
        return Err(ProofError::CreatedInFuture {
            created,
            now: expected.now.to_owned(),
        });
    }
    if let Some(expires) = optional_text(proof, "expires")?
        && Timestamp::parse("expires", &expires)? < now
    {
        return Err(ProofError::ProofExpired { expires });
    }
    let challenge = optional_text(proof, "challenge")?;
    let domain = optional_text(proof, "domain")?;
    let signature = signature(proof)?;
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
        created,
        proof_purpose: expected.purpose.to_owned(),
        challenge,
        domain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vc-di-eddsa");
    /// A time after the W3C vector was signed (2023-02-24T23:36:38Z), to judge it at.
    const AFTER_2023: &str = "2026-11-23T10:00:00Z";

    fn verify_credential(secured: &Value) -> Result<VerifiedProof, ProofError> {
        verify(secured, &ProofExpectation::assertion(AFTER_2023))
    }

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
        let verified = verify_credential(&signed).unwrap();
        assert_eq!(verified.signer, w3c_key().public());
        assert_eq!(verified.created, "2023-02-24T23:36:38Z");
        assert_eq!(verified.proof_purpose, ASSERTION_METHOD);
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
            verify_credential(&copy)
        };
        assert_eq!(
            tamper(&["credentialSubject", "alumniOf"], "Elsewhere".into()),
            Err(ProofError::BadSignature)
        );
        assert_eq!(
            tamper(&["proof", "created"], "2024-01-01T00:00:00Z".into()),
            Err(ProofError::BadSignature)
        );
        let mut for_login = signed.clone();
        for_login["proof"]["proofPurpose"] = "authentication".into();
        assert_eq!(
            verify(&for_login, &ProofExpectation::authentication(AFTER_2023)),
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
        assert_eq!(verify_credential(&no_proof), Err(ProofError::MissingProof));
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
        assert_eq!(verify_credential(&signed).unwrap().signer, key.public());
        assert_eq!(
            sign(&signed, &key, "2026-11-23T10:00:00Z", "assertionMethod"),
            Err(ProofError::AlreadySigned)
        );
    }

    #[test]
    fn the_proof_must_be_for_the_purpose_the_caller_expects() {
        let signed: Value = serde_json::from_str(&vector("eddsa-jcs-2022/signedJCS.json")).unwrap();
        assert_eq!(
            verify(&signed, &ProofExpectation::authentication(AFTER_2023)),
            Err(ProofError::Field {
                field: "proofPurpose",
                expected: AUTHENTICATION.into(),
                found: "\"assertionMethod\"".into(),
            })
        );
        let refused = verify(&signed, &ProofExpectation::authentication(AFTER_2023)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "proof field proofPurpose: expected authentication, found \"assertionMethod\""
        );
    }

    #[test]
    fn created_must_be_a_date_time_no_later_than_now_plus_the_clock_skew() {
        let key = SigningIdentity::generate();
        let signed_at = |created: &str| {
            sign(&Value::Object(unsigned()), &key, created, ASSERTION_METHOD).unwrap()
        };
        let at = |secured: &Value, now: &str| verify(secured, &ProofExpectation::assertion(now));
        let made = signed_at("2026-11-23T10:05:00Z");
        at(&made, "2026-11-23T10:00:00Z").unwrap();
        at(&made, "2026-11-23T10:00:00+00:00").unwrap();
        assert_eq!(
            at(&made, "2026-11-23T09:59:59Z"),
            Err(ProofError::CreatedInFuture {
                created: "2026-11-23T10:05:00Z".into(),
                now: "2026-11-23T09:59:59Z".into(),
            })
        );
        // An offset names the same instant: 11:05+01:00 is 10:05Z.
        let offset = signed_at("2026-11-23T11:05:00+01:00");
        at(&offset, "2026-11-23T10:00:00Z").unwrap();
        assert!(matches!(
            at(&offset, "2026-11-23T09:59:59Z"),
            Err(ProofError::CreatedInFuture { .. })
        ));
        for created in ["yesterday", "2026-11-23", "2026-11-23 10:00:00"] {
            assert!(
                matches!(
                    at(&signed_at(created), AFTER_2023),
                    Err(ProofError::Date(DateError {
                        field: "created",
                        ..
                    }))
                ),
                "{created}"
            );
        }
        let mut no_date = signed_at("2026-11-23T10:00:00Z");
        no_date["proof"]["created"] = serde_json::json!(1_795_000_000);
        assert!(matches!(
            at(&no_date, AFTER_2023),
            Err(ProofError::Field {
                field: "created",
                ..
            })
        ));
        no_date["proof"].as_object_mut().unwrap().remove("created");
        assert!(matches!(
            at(&no_date, AFTER_2023),
            Err(ProofError::Field {
                field: "created",
                ..
            })
        ));
        assert!(matches!(
            at(&made, "now"),
            Err(ProofError::Date(DateError { field: "now", .. }))
        ));
    }

    #[test]
    fn a_proof_past_its_expires_date_is_refused() {
        let key = SigningIdentity::generate();
        let mut extra = Map::new();
        extra.insert("expires".into(), "2026-12-01T00:00:00Z".into());
        let signed = sign_with(
            &Value::Object(unsigned()),
            &key,
            "2026-11-23T10:00:00Z",
            ASSERTION_METHOD,
            extra,
        )
        .unwrap();
        verify(
            &signed,
            &ProofExpectation::assertion("2026-11-30T00:00:00Z"),
        )
        .unwrap();
        assert!(matches!(
            verify(
                &signed,
                &ProofExpectation::assertion("2026-12-01T00:00:01Z")
            ),
            Err(ProofError::ProofExpired { .. })
        ));
    }

    #[test]
    fn a_huge_proof_value_is_refused_before_decoding() {
        let signed: Value = serde_json::from_str(&vector("eddsa-jcs-2022/signedJCS.json")).unwrap();
        let mut huge = signed.clone();
        huge["proof"]["proofValue"] = format!("z{}", "2".repeat(320_000)).into();
        assert_eq!(
            verify_credential(&huge),
            Err(ProofError::ProofValueTooLong {
                length: 320_001,
                max: MAX_PROOF_VALUE_CHARS
            })
        );
        let mut huge = signed;
        huge["proof"]["verificationMethod"] = format!("did:key:z6Mk{}", "2".repeat(320_000)).into();
        assert!(matches!(
            verify_credential(&huge),
            Err(ProofError::VerificationMethod(m)) if m.contains("too long")
        ));
        // Every real signature fits: all ones is the longest base58 form of 64 bytes.
        let longest = format!("z{}", bs58::encode([0xff; 64]).into_string());
        assert!(longest.len() <= MAX_PROOF_VALUE_CHARS, "{}", longest.len());
    }
}
