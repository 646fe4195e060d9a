//! The creator credential a marketplace issues to a creator's did:key, the dataset credential the
//! creator signs, and the presentation the creator signs over a marketplace challenge to publish.
//!
//! A creator-identity credential only the creator signed proves little (the C2PA/CAWG identity work
//! marks self-issued ones untrusted), so the marketplace issues it. The studio checks it against
//! the marketplace's public key and the creator's own key, and shows until when it is valid. To
//! publish, the creator wraps it with the dataset credential in a Verifiable Presentation whose
//! proof (purpose `authentication`) covers the marketplace's challenge and domain.
//!
//! Every check here takes a parsed document: parse the bytes that arrive with [`parse`] (strict
//! JSON, at most [`MAX_DOCUMENT_BYTES`]) so that duplicate keys and the like never reach them.

use serde_json::{Map, Value, json};

use crate::datetime::{DateError, Timestamp};
use crate::did::{PublicIdentity, SigningIdentity};
use crate::integrity::{self, ProofError, ProofExpectation};
use crate::json::{JsonError, excerpt};

const VC_V2: &str = "https://www.w3.org/ns/credentials/v2";
pub const VERIFIABLE_CREDENTIAL: &str = "VerifiableCredential";
pub const VERIFIABLE_PRESENTATION: &str = "VerifiablePresentation";
pub const CREATOR_CREDENTIAL: &str = "CreatorCredential";
pub const DATASET_CREDENTIAL: &str = "DatasetCredential";

/// The largest credential or presentation read (Hallmark's are a few kilobytes): larger input is
/// refused before it is parsed.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// How much of a value from the document an error message quotes.
const SHOWN_CHARS: usize = 120;

/// Why a creator credential, a dataset credential or a presentation is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    #[error("the document is not strict JSON: {0}")]
    Json(#[from] JsonError),
    #[error("the proof does not verify: {0}")]
    Proof(#[from] ProofError),
    #[error("the document is not a {expected} (its type is {found})")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("the credential was issued by {found}, not by {expected}")]
    WrongIssuer { expected: String, found: String },
    #[error("the credential names {found}, not your identity {expected}")]
    WrongHolder { expected: String, found: String },
    #[error("the credential is not valid before {valid_from}")]
    NotYetValid { valid_from: String },
    #[error("the credential expired at {valid_until}; ask its issuer for a new one")]
    Expired { valid_until: String },
    /// A date field (or `now`) that is not an RFC 3339 date-time string.
    #[error("{0}")]
    Date(#[from] DateError),
    #[error("field {field}: {detail}")]
    Field { field: &'static str, detail: String },
    #[error("the presentation answers challenge {found:?}, not {expected:?}")]
    WrongChallenge {
        expected: String,
        found: Option<String>,
    },
    /// One of the credentials a presentation carries is not acceptable.
    #[error("verifiableCredential[{index}]: {problem}")]
    InPresentation {
        index: usize,
        problem: Box<CredentialError>,
    },
}

/// Parses a credential or presentation as it arrives: strict JSON (no key twice, no whole number
/// beyond 2^53, bounded depth) of at most [`MAX_DOCUMENT_BYTES`], refused before parsing if larger.
pub fn parse(bytes: &[u8]) -> Result<Value, CredentialError> {
    Ok(crate::json::from_slice(bytes, MAX_DOCUMENT_BYTES)?)
}

/// How far the marketplace checked who a creator is, as its creator credential states
/// (`credentialSubject.verificationLevel`; a credential without one is self-asserted).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum VerificationLevel {
    /// The creator chose the name; nobody checked it (the default on registration).
    #[default]
    SelfAsserted,
    /// The marketplace confirmed a way to reach the creator (an email address, a website).
    ContactVerified,
    /// The marketplace checked the creator's identity documents.
    IdentityVerified,
}

impl VerificationLevel {
    /// Every level, weakest first.
    pub const ALL: [VerificationLevel; 3] = [
        VerificationLevel::SelfAsserted,
        VerificationLevel::ContactVerified,
        VerificationLevel::IdentityVerified,
    ];

    /// The level as written in credentials and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationLevel::SelfAsserted => "self-asserted",
            VerificationLevel::ContactVerified => "contact-verified",
            VerificationLevel::IdentityVerified => "identity-verified",
        }
    }
}

impl std::fmt::Display for VerificationLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VerificationLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown verification level {:?}; use one of {}",
                    excerpt(text, SHOWN_CHARS),
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }
}

/// A creator credential that checked out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatorStatus {
    pub issuer: String,
    pub holder: String,
    pub name: String,
    pub level: VerificationLevel,
    pub valid_from: String,
    pub valid_until: Option<String>,
}

/// A credential's validity period, as written in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validity {
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
}

/// Checks that `now` is inside `credential`'s validity period. `validFrom` and `validUntil` are
/// each optional, but when present must be RFC 3339 date-time strings (a number or `null` is an
/// error, never "no limit"). `validFrom` may be up to [`integrity::CLOCK_SKEW_SECONDS`] after
/// `now`, as its issuer's clock wrote it; `validUntil` is exact.
pub fn check_validity(credential: &Value, now: &str) -> Result<Validity, CredentialError> {
    let now_time = Timestamp::parse("now", now)?;
    let valid_from = Timestamp::optional(credential, "validFrom")?;
    let valid_until = Timestamp::optional(credential, "validUntil")?;
    let text = |field: &str| credential[field].as_str().map(str::to_owned);
    let validity = Validity {
        valid_from: text("validFrom"),
        valid_until: text("validUntil"),
    };
    if valid_from.is_some_and(|from| from > now_time.plus_seconds(integrity::CLOCK_SKEW_SECONDS)) {
        return Err(CredentialError::NotYetValid {
            valid_from: validity.valid_from.unwrap_or_default(),
        });
    }
    if valid_until.is_some_and(|until| until < now_time) {
        return Err(CredentialError::Expired {
            valid_until: validity.valid_until.unwrap_or_default(),
        });
    }
    Ok(validity)
}

/// Issues a self-asserted creator credential (the marketplace side; the studio uses it in tests).
pub fn issue(
    marketplace: &SigningIdentity,
    creator: &PublicIdentity,
    name: &str,
    valid_from: &str,
    valid_until: &str,
) -> Result<Value, ProofError> {
    issue_at_level(
        marketplace,
        creator,
        name,
        VerificationLevel::SelfAsserted,
        valid_from,
        valid_until,
    )
}

/// Issues a creator credential stating how far the marketplace checked the creator.
pub fn issue_at_level(
    marketplace: &SigningIdentity,
    creator: &PublicIdentity,
    name: &str,
    level: VerificationLevel,
    valid_from: &str,
    valid_until: &str,
) -> Result<Value, ProofError> {
    let credential = json!({
        "@context": [VC_V2],
        "type": [VERIFIABLE_CREDENTIAL, CREATOR_CREDENTIAL],
        "issuer": marketplace.public().to_string(),
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": {
            "id": creator.to_string(),
            "name": name,
            "verificationLevel": level.as_str(),
        },
    });
    integrity::sign(
        &credential,
        marketplace,
        valid_from,
        integrity::ASSERTION_METHOD,
    )
}

fn has_type(document: &Value, wanted: &str) -> bool {
    document["type"]
        .as_array()
        .is_some_and(|t| t.iter().any(|v| v == wanted))
}

/// Refuses `document` unless its `type` array names `base` and `wanted`.
fn expect_types(
    document: &Value,
    base: &'static str,
    wanted: &'static str,
) -> Result<(), CredentialError> {
    if has_type(document, base) && has_type(document, wanted) {
        return Ok(());
    }
    Err(CredentialError::WrongType {
        expected: wanted,
        found: match document.get("type") {
            Some(types) => excerpt(&types.to_string(), SHOWN_CHARS),
            None => "missing".into(),
        },
    })
}

/// The credential's `issuer`: a string, or an object with a string `id` (both VC 2.0 forms).
fn issuer(credential: &Value) -> Result<&str, CredentialError> {
    let issuer = &credential["issuer"];
    issuer
        .as_str()
        .or_else(|| issuer["id"].as_str())
        .ok_or_else(|| CredentialError::Field {
            field: "issuer",
            detail: "expected the issuer's did:key".into(),
        })
}

/// Checks a creator credential: the marketplace signed it (proof purpose `assertionMethod`, not
/// created after `now`), it names `holder`, and `now` is inside its validity period.
pub fn check(
    credential: &Value,
    marketplace: &PublicIdentity,
    holder: &PublicIdentity,
    now: &str,
) -> Result<CreatorStatus, CredentialError> {
    Timestamp::parse("now", now)?;
    expect_types(credential, VERIFIABLE_CREDENTIAL, CREATOR_CREDENTIAL)?;
    let proof = integrity::verify(credential, &ProofExpectation::assertion(now))?;
    let issuer = issuer(credential)?.to_owned();
    if proof.signer != *marketplace || issuer != marketplace.to_string() {
        return Err(CredentialError::WrongIssuer {
            expected: format!("the marketplace {marketplace}"),
            found: proof.signer.to_string(),
        });
    }
    let subject = credential["credentialSubject"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if subject != holder.to_string() {
        return Err(CredentialError::WrongHolder {
            expected: holder.to_string(),
            found: excerpt(&subject, SHOWN_CHARS),
        });
    }
    let validity = check_validity(credential, now)?;
    let valid_from = validity.valid_from.ok_or_else(|| CredentialError::Field {
        field: "validFrom",
        detail: "missing; a creator credential says from when it is valid".into(),
    })?;
    let level = match &credential["credentialSubject"]["verificationLevel"] {
        Value::Null => VerificationLevel::SelfAsserted,
        Value::String(text) => text.parse().map_err(|detail| CredentialError::Field {
            field: "credentialSubject.verificationLevel",
            detail,
        })?,
        other => {
            return Err(CredentialError::Field {
                field: "credentialSubject.verificationLevel",
                detail: format!("expected a string, found {}", crate::datetime::kind(other)),
            });
        }
    };
    Ok(CreatorStatus {
        issuer,
        holder: subject,
        name: credential["credentialSubject"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        level,
        valid_from,
        valid_until: validity.valid_until,
    })
}

/// A dataset credential that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetStatus {
    /// Its issuer, who signed it.
    pub issuer: PublicIdentity,
    pub validity: Validity,
}

/// Checks a dataset credential as a document: its `type` names `VerifiableCredential` and
/// `DatasetCredential`, its proof (purpose `assertionMethod`) verifies at `now`, its `issuer` is the
/// key that signed it, and `now` is inside its validity period. Whether the files it names match is
/// [`crate::credential::check`]'s part.
pub fn check_dataset(credential: &Value, now: &str) -> Result<DatasetStatus, CredentialError> {
    Timestamp::parse("now", now)?;
    expect_types(credential, VERIFIABLE_CREDENTIAL, DATASET_CREDENTIAL)?;
    let proof = integrity::verify(credential, &ProofExpectation::assertion(now))?;
    let issuer = issuer(credential)?;
    if issuer != proof.signer.to_string() {
        return Err(CredentialError::WrongIssuer {
            expected: format!("its signer {}", proof.signer),
            found: excerpt(issuer, SHOWN_CHARS),
        });
    }
    let validity = check_validity(credential, now)?;
    Ok(DatasetStatus {
        issuer: proof.signer,
        validity,
    })
}

/// The creator's presentation of `credentials` to a marketplace, signed over its challenge and domain.
pub fn present(
    holder: &SigningIdentity,
    credentials: &[Value],
    challenge: &str,
    domain: &str,
    created: &str,
) -> Result<Value, ProofError> {
    let presentation = json!({
        "@context": [VC_V2],
        "type": [VERIFIABLE_PRESENTATION],
        "holder": holder.public().to_string(),
        "verifiableCredential": credentials,
    });
    let mut extra = Map::new();
    extra.insert("challenge".into(), challenge.into());
    extra.insert("domain".into(), domain.into());
    integrity::sign_with(
        &presentation,
        holder,
        created,
        integrity::AUTHENTICATION,
        extra,
    )
}

/// What a marketplace learns from an acceptable presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedPresentation {
    pub creator: CreatorStatus,
    /// The creator credential as presented, for the marketplace to keep with what it lists.
    pub creator_credential: Value,
    /// The dataset credentials in it, each issued and signed by the holder.
    pub datasets: Vec<Value>,
}

/// Checks a sign-in: `presentation` is a `VerifiablePresentation` whose proof (purpose
/// `authentication`, not created after `now`) answers `challenge` for `domain` and was made by its
/// `holder`, whom it returns. The credentials it carries, if any, are not looked at here.
pub fn check_sign_in(
    presentation: &Value,
    challenge: &str,
    domain: &str,
    now: &str,
) -> Result<PublicIdentity, CredentialError> {
    Timestamp::parse("now", now)?;
    expect_types(
        presentation,
        VERIFIABLE_PRESENTATION,
        VERIFIABLE_PRESENTATION,
    )?;
    let proof = integrity::verify(presentation, &ProofExpectation::authentication(now))?;
    if proof.challenge.as_deref() != Some(challenge) {
        return Err(CredentialError::WrongChallenge {
            expected: challenge.to_owned(),
            found: proof.challenge.map(|c| excerpt(&c, SHOWN_CHARS)),
        });
    }
    if proof.domain.as_deref() != Some(domain) {
        return Err(CredentialError::Field {
            field: "domain",
            detail: format!(
                "expected {domain:?}, found {:?}",
                proof.domain.map(|d| excerpt(&d, SHOWN_CHARS))
            ),
        });
    }
    let holder = proof.signer;
    if presentation["holder"].as_str() != Some(&holder.to_string()) {
        return Err(CredentialError::WrongHolder {
            expected: holder.to_string(),
            found: excerpt(&presentation["holder"].to_string(), SHOWN_CHARS),
        });
    }
    Ok(holder)
}

/// Checks a presentation as the marketplace would: it is a `VerifiablePresentation` whose proof
/// (purpose `authentication`, not created after `now`) answers `challenge` for `domain` and was
/// made by its `holder`; it carries exactly one creator credential, valid at `now`, from
/// `marketplace` for that holder; every other credential in it is a `DatasetCredential` the holder
/// issued and signed (see [`check_dataset`]). Anything else is refused, naming its index.
pub fn check_presentation(
    presentation: &Value,
    marketplace: &PublicIdentity,
    challenge: &str,
    domain: &str,
    now: &str,
) -> Result<AcceptedPresentation, CredentialError> {
    let holder = check_sign_in(presentation, challenge, domain, now)?;
    let credentials = presentation["verifiableCredential"]
        .as_array()
        .ok_or_else(|| CredentialError::Field {
            field: "verifiableCredential",
            detail: "expected an array of credentials".into(),
        })?;
    let in_presentation = |index: usize| {
        move |problem: CredentialError| CredentialError::InPresentation {
            index,
            problem: Box::new(problem),
        }
    };
    let mut creator = None;
    let mut datasets = Vec::new();
    for (index, credential) in credentials.iter().enumerate() {
        if has_type(credential, CREATOR_CREDENTIAL) {
            if creator.is_some() {
                return Err(in_presentation(index)(CredentialError::Field {
                    field: "type",
                    detail: "a second creator credential; present exactly one".into(),
                }));
            }
            let status =
                check(credential, marketplace, &holder, now).map_err(in_presentation(index))?;
            creator = Some((status, credential.clone()));
        } else {
            let status = check_dataset(credential, now).map_err(in_presentation(index))?;
            if status.issuer != holder {
                return Err(in_presentation(index)(CredentialError::WrongIssuer {
                    expected: format!("the presentation's holder {holder}"),
                    found: status.issuer.to_string(),
                }));
            }
            datasets.push(credential.clone());
        }
    }
    let (creator, creator_credential) = creator.ok_or(CredentialError::Field {
        field: "verifiableCredential",
        detail: "no creator credential; add the one the marketplace issued to you".into(),
    })?;
    Ok(AcceptedPresentation {
        creator,
        creator_credential,
        datasets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct World {
        marketplace: SigningIdentity,
        creator: SigningIdentity,
        credential: Value,
    }

    fn world() -> World {
        let marketplace = SigningIdentity::generate();
        let creator = SigningIdentity::generate();
        let credential = issue(
            &marketplace,
            &creator.public(),
            "Ana Example",
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        )
        .unwrap();
        World {
            marketplace,
            creator,
            credential,
        }
    }

    #[test]
    fn a_marketplace_credential_is_valid_for_its_holder_until_it_expires() {
        let w = world();
        let status = check(
            &w.credential,
            &w.marketplace.public(),
            &w.creator.public(),
            "2026-11-23T10:00:00Z",
        )
        .unwrap();
        assert_eq!(status.valid_until.as_deref(), Some("2027-01-01T00:00:00Z"));
        assert_eq!(status.name, "Ana Example");
        let late = check(
            &w.credential,
            &w.marketplace.public(),
            &w.creator.public(),
            "2027-02-01T00:00:00Z",
        );
        assert!(matches!(late, Err(CredentialError::Expired { .. })));
        let early = check(
            &w.credential,
            &w.marketplace.public(),
            &w.creator.public(),
            "2025-12-31T00:00:00Z",
        );
        // Issued with its proof: before validFrom, the proof itself is from the future.
        assert!(matches!(
            early,
            Err(CredentialError::Proof(ProofError::CreatedInFuture { .. }))
        ));
        let issued_early = creator_credential(
            &w,
            "2026-01-01T00:00:00Z".into(),
            "2027-01-01T00:00:00Z".into(),
            "2025-12-01T00:00:00Z",
            "assertionMethod",
        );
        assert!(matches!(
            check_at(&w, &issued_early, "2025-12-31T00:00:00Z"),
            Err(CredentialError::NotYetValid { .. })
        ));
        // validFrom, written by the issuer's clock, may be up to the clock skew ahead of now.
        check_at(&w, &issued_early, "2025-12-31T23:56:00Z").unwrap();
    }

    #[test]
    fn a_credential_from_someone_else_or_for_someone_else_is_refused() {
        let w = world();
        let stranger = SigningIdentity::generate();
        let now = "2026-11-23T10:00:00Z";
        assert!(matches!(
            check(&w.credential, &stranger.public(), &w.creator.public(), now),
            Err(CredentialError::WrongIssuer { .. })
        ));
        assert!(matches!(
            check(
                &w.credential,
                &w.marketplace.public(),
                &stranger.public(),
                now
            ),
            Err(CredentialError::WrongHolder { .. })
        ));
        let self_issued = issue(
            &w.creator,
            &w.creator.public(),
            "Ana",
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        )
        .unwrap();
        assert!(matches!(
            check(
                &self_issued,
                &w.marketplace.public(),
                &w.creator.public(),
                now
            ),
            Err(CredentialError::WrongIssuer { .. })
        ));
        let mut changed = w.credential.clone();
        changed["validUntil"] = "2099-01-01T00:00:00Z".into();
        assert!(matches!(
            check(&changed, &w.marketplace.public(), &w.creator.public(), now),
            Err(CredentialError::Proof(ProofError::BadSignature))
        ));
    }

    #[test]
    fn a_credential_states_the_level_the_marketplace_checked_and_defaults_to_self_asserted() {
        let w = world();
        let now = "2026-11-23T10:00:00Z";
        let status = check(
            &w.credential,
            &w.marketplace.public(),
            &w.creator.public(),
            now,
        );
        assert_eq!(status.unwrap().level, VerificationLevel::SelfAsserted);
        let verified = issue_at_level(
            &w.marketplace,
            &w.creator.public(),
            "Ana Example",
            VerificationLevel::IdentityVerified,
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(
            verified["credentialSubject"]["verificationLevel"],
            "identity-verified"
        );
        let status = check(&verified, &w.marketplace.public(), &w.creator.public(), now);
        assert_eq!(status.unwrap().level, VerificationLevel::IdentityVerified);
        assert_eq!(
            "contact-verified".parse(),
            Ok(VerificationLevel::ContactVerified)
        );
        let unknown = "gold".parse::<VerificationLevel>().unwrap_err();
        assert!(unknown.contains("self-asserted, contact-verified, identity-verified"));
    }

    #[test]
    fn a_sign_in_is_a_presentation_over_the_challenge_and_domain_by_its_holder() {
        let w = world();
        let now = "2026-11-23T10:00:00Z";
        let signed = present(&w.creator, &[], "c-1", "market.example", now).unwrap();
        assert_eq!(
            check_sign_in(&signed, "c-1", "market.example", now).unwrap(),
            w.creator.public()
        );
        assert!(matches!(
            check_sign_in(&signed, "c-2", "market.example", now),
            Err(CredentialError::WrongChallenge { .. })
        ));
        assert!(matches!(
            check_sign_in(&signed, "c-1", "other.example", now),
            Err(CredentialError::Field {
                field: "domain",
                ..
            })
        ));
        let mut swapped = signed.clone();
        swapped["holder"] = w.marketplace.public().to_string().into();
        assert!(check_sign_in(&swapped, "c-1", "market.example", now).is_err());
        // A proof made after `now` (beyond clock skew) is refused: sign-ins are not pre-made.
        let later = present(
            &w.creator,
            &[],
            "c-1",
            "market.example",
            "2026-11-24T10:00:00Z",
        )
        .unwrap();
        assert!(check_sign_in(&later, "c-1", "market.example", now).is_err());
    }

    #[test]
    fn a_presentation_answers_the_challenge_and_carries_both_credentials() {
        let w = world();
        let dataset = integrity::sign(&json!({"@context": [VC_V2], "type": ["VerifiableCredential", "DatasetCredential"], "issuer": w.creator.public().to_string(), "credentialSubject": {"id": "urn:sha256:00"}}), &w.creator, "2026-11-23T10:00:00Z", "assertionMethod").unwrap();
        let vp = present(
            &w.creator,
            &[w.credential.clone(), dataset],
            "nonce-123",
            "market.example",
            "2026-11-23T10:00:00Z",
        )
        .unwrap();
        let accepted = check_presentation(
            &vp,
            &w.marketplace.public(),
            "nonce-123",
            "market.example",
            "2026-11-23T10:05:00Z",
        )
        .unwrap();
        assert_eq!(accepted.datasets.len(), 1);
        assert_eq!(accepted.creator.holder, w.creator.public().to_string());
        let replayed = check_presentation(
            &vp,
            &w.marketplace.public(),
            "nonce-456",
            "market.example",
            "2026-11-23T10:05:00Z",
        );
        assert!(matches!(
            replayed,
            Err(CredentialError::WrongChallenge { .. })
        ));
        let mut swapped = vp.clone();
        swapped["proof"]["challenge"] = "nonce-456".into();
        assert!(matches!(
            check_presentation(
                &swapped,
                &w.marketplace.public(),
                "nonce-456",
                "market.example",
                "2026-11-23T10:05:00Z"
            ),
            Err(CredentialError::Proof(_))
        ));
    }

    const NOW: &str = "2026-11-23T10:00:00Z";

    /// A creator credential from `w.marketplace` for `w.creator`, with the fields and proof options given.
    fn creator_credential(
        w: &World,
        valid_from: Value,
        valid_until: Value,
        created: &str,
        purpose: &str,
    ) -> Value {
        let credential = json!({
            "@context": [VC_V2],
            "type": ["VerifiableCredential", CREATOR_CREDENTIAL],
            "issuer": w.marketplace.public().to_string(),
            "validFrom": valid_from,
            "validUntil": valid_until,
            "credentialSubject": { "id": w.creator.public().to_string(), "name": "Ana" },
        });
        integrity::sign(&credential, &w.marketplace, created, purpose).unwrap()
    }

    fn check_at(
        w: &World,
        credential: &Value,
        now: &str,
    ) -> Result<CreatorStatus, CredentialError> {
        check(
            credential,
            &w.marketplace.public(),
            &w.creator.public(),
            now,
        )
    }

    #[test]
    fn validity_dates_must_be_date_time_strings() {
        let w = world();
        let number_until = creator_credential(
            &w,
            "2026-01-01T00:00:00Z".into(),
            json!(20200101),
            "2026-01-01T00:00:00Z",
            "assertionMethod",
        );
        let refused = check_at(&w, &number_until, NOW).unwrap_err();
        assert!(refused.to_string().contains("validUntil"), "{refused}");
        let number_from = creator_credential(
            &w,
            json!(0),
            "2027-01-01T00:00:00Z".into(),
            "2026-01-01T00:00:00Z",
            "assertionMethod",
        );
        let refused = check_at(&w, &number_from, NOW).unwrap_err();
        assert!(refused.to_string().contains("validFrom"), "{refused}");
        let null_until = creator_credential(
            &w,
            "2026-01-01T00:00:00Z".into(),
            Value::Null,
            "2026-01-01T00:00:00Z",
            "assertionMethod",
        );
        let refused = check_at(&w, &null_until, NOW).unwrap_err();
        assert!(refused.to_string().contains("validUntil"), "{refused}");
    }

    #[test]
    fn dates_with_numeric_offsets_are_compared_as_instants() {
        let w = world();
        // 11:00 at +01:00 is 10:00 UTC.
        let credential = creator_credential(
            &w,
            "2026-01-01T01:00:00+01:00".into(),
            "2026-11-23T11:00:00+01:00".into(),
            "2025-12-01T00:00:00-00:30",
            "assertionMethod",
        );
        check_at(&w, &credential, "2026-11-23T09:59:59Z").unwrap();
        check_at(&w, &credential, "2026-11-23T10:59:59+01:00").unwrap();
        assert!(matches!(
            check_at(&w, &credential, "2026-11-23T10:00:01Z"),
            Err(CredentialError::Expired { .. })
        ));
        assert!(matches!(
            check_at(&w, &credential, "2026-11-23T05:00:01-05:00"),
            Err(CredentialError::Expired { .. })
        ));
        assert!(matches!(
            check_at(&w, &credential, "2025-12-31T23:54:59Z"),
            Err(CredentialError::NotYetValid { .. })
        ));
        let refused = check_at(&w, &credential, "next tuesday").unwrap_err();
        assert!(refused.to_string().contains("now"), "{refused}");
    }

    #[test]
    fn a_proof_created_in_the_future_or_not_at_a_date_is_refused() {
        let w = world();
        let future = creator_credential(
            &w,
            "2026-01-01T00:00:00Z".into(),
            "2027-01-01T00:00:00Z".into(),
            "2026-11-23T10:06:00Z",
            "assertionMethod",
        );
        let refused = check_at(&w, &future, NOW).unwrap_err();
        assert!(refused.to_string().contains("created"), "{refused}");
        // Within the stated clock skew (five minutes), a proof made "just now" elsewhere is fine.
        check_at(&w, &future, "2026-11-23T10:01:00Z").unwrap();
        let not_a_date = creator_credential(
            &w,
            "2026-01-01T00:00:00Z".into(),
            "2027-01-01T00:00:00Z".into(),
            "yesterday",
            "assertionMethod",
        );
        let refused = check_at(&w, &not_a_date, NOW).unwrap_err();
        assert!(refused.to_string().contains("created"), "{refused}");
    }

    #[test]
    fn a_credential_proof_must_be_for_assertion() {
        let w = world();
        let for_login = creator_credential(
            &w,
            "2026-01-01T00:00:00Z".into(),
            "2027-01-01T00:00:00Z".into(),
            "2026-01-01T00:00:00Z",
            "authentication",
        );
        let refused = check_at(&w, &for_login, NOW).unwrap_err();
        assert!(refused.to_string().contains("proofPurpose"), "{refused}");
    }

    #[test]
    fn a_huge_proof_value_or_did_is_refused_before_decoding() {
        let w = world();
        let mut huge = w.credential.clone();
        huge["proof"]["proofValue"] = format!("z{}", "2".repeat(320_000)).into();
        let refused = check_at(&w, &huge, NOW).unwrap_err();
        assert!(refused.to_string().contains("proofValue"), "{refused}");
        assert!(refused.to_string().contains("too long"), "{refused}");
        let mut huge = w.credential.clone();
        huge["proof"]["verificationMethod"] = format!("did:key:z6Mk{}", "2".repeat(320_000)).into();
        let refused = check_at(&w, &huge, NOW).unwrap_err();
        assert!(refused.to_string().contains("too long"), "{refused}");
        assert!(
            refused.to_string().len() < 400,
            "the message does not echo it all"
        );
    }

    /// A presentation by `w.creator` of its creator credential and `other`, at `NOW`.
    fn presenting(w: &World, other: Value) -> Result<AcceptedPresentation, CredentialError> {
        let vp = present(
            &w.creator,
            &[w.credential.clone(), other],
            "n-1",
            "market.example",
            NOW,
        )
        .unwrap();
        check_presentation(&vp, &w.marketplace.public(), "n-1", "market.example", NOW)
    }

    fn dataset_credential(issuer: &str, types: Value) -> Value {
        json!({
            "@context": [VC_V2],
            "type": types,
            "issuer": issuer,
            "validFrom": "2026-11-23T09:00:00Z",
            "credentialSubject": {"id": "urn:sha256:00"},
        })
    }

    #[test]
    fn a_presentation_carries_only_dataset_credentials_its_holder_issued_and_signed() {
        let w = world();
        let holder = w.creator.public().to_string();
        let dataset_types = json!(["VerifiableCredential", "DatasetCredential"]);
        let signed = |doc: &Value, key: &SigningIdentity, purpose: &str| {
            integrity::sign(doc, key, "2026-11-23T09:00:00Z", purpose).unwrap()
        };
        let good = signed(
            &dataset_credential(&holder, dataset_types.clone()),
            &w.creator,
            "assertionMethod",
        );
        assert_eq!(presenting(&w, good).unwrap().datasets.len(), 1);

        let stranger = SigningIdentity::generate();
        let cases = [
            (
                "another creator as issuer",
                signed(
                    &dataset_credential(&stranger.public().to_string(), dataset_types.clone()),
                    &w.creator,
                    "assertionMethod",
                ),
            ),
            (
                "another type",
                signed(
                    &dataset_credential(
                        &holder,
                        json!(["VerifiableCredential", "AlumniCredential"]),
                    ),
                    &w.creator,
                    "assertionMethod",
                ),
            ),
            (
                "no VerifiableCredential type",
                signed(
                    &dataset_credential(&holder, json!(["DatasetCredential"])),
                    &w.creator,
                    "assertionMethod",
                ),
            ),
            (
                "anything goes",
                signed(&json!({"anything": "goes"}), &w.creator, "assertionMethod"),
            ),
            (
                "signed for authentication",
                signed(
                    &dataset_credential(&holder, dataset_types.clone()),
                    &w.creator,
                    "authentication",
                ),
            ),
            (
                "signed by a stranger",
                signed(
                    &dataset_credential(&holder, dataset_types.clone()),
                    &stranger,
                    "assertionMethod",
                ),
            ),
            (
                "unsigned",
                dataset_credential(&holder, dataset_types.clone()),
            ),
            ("not an object", json!("DatasetCredential")),
        ];
        for (case, other) in cases {
            let refused = presenting(&w, other).expect_err(case);
            assert!(
                refused.to_string().contains("verifiableCredential[1]"),
                "{case}: {refused}"
            );
        }
    }

    #[test]
    fn a_presentation_signed_for_assertion_or_in_the_future_is_refused() {
        let w = world();
        let mut extra = Map::new();
        extra.insert("challenge".into(), "n-1".into());
        extra.insert("domain".into(), "market.example".into());
        let document = json!({
            "@context": [VC_V2],
            "type": ["VerifiablePresentation"],
            "holder": w.creator.public().to_string(),
            "verifiableCredential": [w.credential.clone()],
        });
        let check = |created: &str, purpose: &str| {
            let vp = integrity::sign_with(&document, &w.creator, created, purpose, extra.clone())
                .unwrap();
            check_presentation(&vp, &w.marketplace.public(), "n-1", "market.example", NOW)
        };
        check(NOW, "authentication").unwrap();
        let refused = check(NOW, "assertionMethod").unwrap_err();
        assert!(refused.to_string().contains("proofPurpose"), "{refused}");
        let refused = check("2026-11-24T10:00:00Z", "authentication").unwrap_err();
        assert!(refused.to_string().contains("created"), "{refused}");
    }
}

/// Creator credentials the studio keeps, one JSON file each in a folder the shell chooses
/// (`<data dir>/credentials`), stored only after they check out.
#[derive(Debug, Clone)]
pub struct CredentialShelf {
    dir: std::path::PathBuf,
}

/// A kept credential with what it says now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptCredential {
    pub file: std::path::PathBuf,
    pub marketplace: String,
    pub holder: String,
    pub name: String,
    pub valid_until: Option<String>,
    /// The verification level it states, when it is valid at the time asked.
    pub level: Option<VerificationLevel>,
    /// `None` when valid at the time asked; otherwise why not (expired, …), in words.
    pub problem: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    marketplace: String,
    credential: Value,
}

impl CredentialShelf {
    pub fn new(dir: &std::path::Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// Checks `credential` against the marketplace and the holder, then keeps it; returns its status.
    pub fn import(
        &self,
        credential: &Value,
        marketplace: &PublicIdentity,
        holder: &PublicIdentity,
        now: &str,
    ) -> crate::Result<Result<KeptCredential, CredentialError>> {
        let status = match check(credential, marketplace, holder, now) {
            Ok(status) => status,
            Err(e) => return Ok(Err(e)),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| crate::Error::from_io(&self.dir, e))?;
        let bytes = serde_json::to_vec_pretty(&Kept {
            marketplace: marketplace.to_string(),
            credential: credential.clone(),
        })
        .map_err(|e| crate::Error::Damaged {
            path: self.dir.clone(),
            detail: e.to_string(),
        })?;
        let file = self.dir.join(format!(
            "{}.json",
            crate::digest::Sha256Digest::of(&bytes).hex()
        ));
        std::fs::write(&file, &bytes).map_err(|e| crate::Error::from_io(&file, e))?;
        Ok(Ok(KeptCredential {
            file,
            marketplace: marketplace.to_string(),
            holder: status.holder,
            name: status.name,
            valid_until: status.valid_until,
            level: Some(status.level),
            problem: None,
        }))
    }

    /// Keeps `credential` as the one current credential `marketplace` issued to `holder`: checks
    /// and keeps it as [`CredentialShelf::import`] does, then removes the ones it supersedes (an
    /// earlier name or level), so that what the studio shows is what the marketplace last said.
    pub fn replace(
        &self,
        credential: &Value,
        marketplace: &PublicIdentity,
        holder: &PublicIdentity,
        now: &str,
    ) -> crate::Result<Result<KeptCredential, CredentialError>> {
        let kept = match self.import(credential, marketplace, holder, now)? {
            Ok(kept) => kept,
            Err(e) => return Ok(Err(e)),
        };
        let (marketplace, holder) = (marketplace.to_string(), holder.to_string());
        for old in self.list(now)? {
            if old.file != kept.file && old.marketplace == marketplace && old.holder == holder {
                match std::fs::remove_file(&old.file) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(crate::Error::from_io(&old.file, e));
                    }
                    _ => {}
                }
            }
        }
        Ok(Ok(kept))
    }

    /// Every kept credential, checked again at `now` (one that expired says so).
    pub fn list(&self, now: &str) -> crate::Result<Vec<KeptCredential>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(crate::Error::from_io(&self.dir, e)),
        };
        let mut kept = Vec::new();
        for entry in entries.flatten() {
            let file = entry.path();
            // Kept files are read as strictly as the credential was when it was imported.
            let Ok(bytes) = crate::untrusted::read_capped(&file, 2 * MAX_DOCUMENT_BYTES as u64)
            else {
                continue;
            };
            let Ok(item) = crate::json::from_slice(&bytes, 2 * MAX_DOCUMENT_BYTES)
                .map_err(|e| e.to_string())
                .and_then(|v| serde_json::from_value::<Kept>(v).map_err(|e| e.to_string()))
            else {
                continue;
            };
            let holder = item.credential["credentialSubject"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let (level, problem) = match (
                item.marketplace.parse::<PublicIdentity>(),
                holder.parse::<PublicIdentity>(),
            ) {
                (Ok(market), Ok(h)) => match check(&item.credential, &market, &h, now) {
                    Ok(status) => (Some(status.level), None),
                    Err(e) => (None, Some(e.to_string())),
                },
                _ => (
                    None,
                    Some("the stored credential names no valid did:key".to_owned()),
                ),
            };
            kept.push(KeptCredential {
                file,
                marketplace: item.marketplace,
                name: item.credential["credentialSubject"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                valid_until: item.credential["validUntil"].as_str().map(str::to_owned),
                holder,
                level,
                problem,
            });
        }
        kept.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(kept)
    }
}

#[cfg(test)]
mod shelf_tests {
    use super::*;

    #[test]
    fn a_replacing_credential_supersedes_only_its_marketplace_and_holders_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let shelf = CredentialShelf::new(&dir.path().join("credentials"));
        let (market, other_market) = (SigningIdentity::generate(), SigningIdentity::generate());
        let creator = SigningIdentity::generate();
        let issued = |by: &SigningIdentity, name: &str| {
            issue(
                by,
                &creator.public(),
                name,
                "2026-01-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
            )
            .unwrap()
        };
        let now = "2026-06-01T00:00:00Z";
        let keep = |credential: &Value, by: &SigningIdentity| {
            shelf
                .replace(credential, &by.public(), &creator.public(), now)
                .unwrap()
                .unwrap()
        };
        keep(&issued(&market, "Ana"), &market);
        keep(&issued(&other_market, "Ana elsewhere"), &other_market);
        keep(&issued(&market, "Ana Lima"), &market);
        let mut names: Vec<_> = shelf
            .list(now)
            .unwrap()
            .into_iter()
            .map(|k| k.name)
            .collect();
        names.sort();
        assert_eq!(names, ["Ana Lima", "Ana elsewhere"]);

        let foreign = issued(&SigningIdentity::generate(), "Mallory");
        assert!(
            shelf
                .replace(&foreign, &market.public(), &creator.public(), now)
                .unwrap()
                .is_err()
        );
        assert_eq!(
            shelf.list(now).unwrap().len(),
            2,
            "a refused one removes nothing"
        );
    }

    #[test]
    fn only_valid_credentials_are_kept_and_expiry_shows_on_listing() {
        let dir = tempfile::tempdir().unwrap();
        let shelf = CredentialShelf::new(&dir.path().join("credentials"));
        let market = SigningIdentity::generate();
        let creator = SigningIdentity::generate();
        let credential = issue(
            &market,
            &creator.public(),
            "Ana",
            "2026-01-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        )
        .unwrap();
        let stranger = SigningIdentity::generate();
        let refused = shelf
            .import(
                &credential,
                &stranger.public(),
                &creator.public(),
                "2026-06-01T00:00:00Z",
            )
            .unwrap();
        assert!(matches!(refused, Err(CredentialError::WrongIssuer { .. })));
        assert!(
            shelf.list("2026-06-01T00:00:00Z").unwrap().is_empty(),
            "a refused credential is not kept"
        );

        let kept = shelf
            .import(
                &credential,
                &market.public(),
                &creator.public(),
                "2026-06-01T00:00:00Z",
            )
            .unwrap()
            .unwrap();
        assert_eq!(kept.valid_until.as_deref(), Some("2027-01-01T00:00:00Z"));
        let now = shelf.list("2026-06-01T00:00:00Z").unwrap();
        assert_eq!((now.len(), now[0].problem.clone()), (1, None));
        assert_eq!(now[0].level, Some(VerificationLevel::SelfAsserted));
        let later = shelf.list("2027-06-01T00:00:00Z").unwrap();
        assert!(later[0].problem.as_deref().unwrap().contains("expired"));
        assert_eq!(
            later[0].level, None,
            "an expired credential vouches for nothing"
        );
    }
}
