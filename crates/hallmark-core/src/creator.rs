//! The creator credential a marketplace issues to a creator's did:key, and the presentation the
//! creator signs over a marketplace challenge to publish a dataset.
//!
//! A creator-identity credential only the creator signed proves little (the C2PA/CAWG identity work
//! marks self-issued ones untrusted), so the marketplace issues it. The studio checks it against
//! the marketplace's public key and the creator's own key, and shows until when it is valid. To
//! publish, the creator wraps it with the dataset credential in a Verifiable Presentation whose
//! proof (purpose `authentication`) covers the marketplace's challenge and domain.

use serde_json::{Map, Value, json};

use crate::did::{PublicIdentity, SigningIdentity};
use crate::integrity::{self, ProofError};

const VC_V2: &str = "https://www.w3.org/ns/credentials/v2";
pub const CREATOR_CREDENTIAL: &str = "CreatorCredential";

/// Why a creator credential or a presentation is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    #[error("the credential's proof does not verify: {0}")]
    Proof(#[from] ProofError),
    #[error("the credential is not a {expected} (its type is {found})")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("the credential was issued by {found}, not by the marketplace {expected}")]
    WrongIssuer { expected: String, found: String },
    #[error("the credential names {found}, not your identity {expected}")]
    WrongHolder { expected: String, found: String },
    #[error("the credential is not valid before {valid_from}")]
    NotYetValid { valid_from: String },
    #[error("the credential expired at {valid_until}; ask the marketplace for a new one")]
    Expired { valid_until: String },
    #[error("field {field}: {detail}")]
    Field { field: &'static str, detail: String },
    #[error("the presentation answers challenge {found:?}, not {expected:?}")]
    WrongChallenge {
        expected: String,
        found: Option<String>,
    },
}

/// A creator credential that checked out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatorStatus {
    pub issuer: String,
    pub holder: String,
    pub name: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
}

fn seconds(field: &'static str, text: &str) -> Result<std::time::SystemTime, CredentialError> {
    humantime::parse_rfc3339_weak(text)
        .or_else(|_| humantime::parse_rfc3339(text))
        .map_err(|e| CredentialError::Field {
            field,
            detail: format!("{text:?} is not a date-time: {e}"),
        })
}

/// Issues a creator credential (the marketplace side; the studio uses it in tests).
pub fn issue(
    marketplace: &SigningIdentity,
    creator: &PublicIdentity,
    name: &str,
    valid_from: &str,
    valid_until: &str,
) -> Result<Value, ProofError> {
    let credential = json!({
        "@context": [VC_V2],
        "type": ["VerifiableCredential", CREATOR_CREDENTIAL],
        "issuer": marketplace.public().to_string(),
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": { "id": creator.to_string(), "name": name },
    });
    integrity::sign(&credential, marketplace, valid_from, "assertionMethod")
}

fn has_type(credential: &Value, wanted: &str) -> bool {
    credential["type"]
        .as_array()
        .is_some_and(|t| t.iter().any(|v| v == wanted))
}

/// Checks a creator credential: the marketplace signed it, it names `holder`, and `now` is inside
/// its validity period.
pub fn check(
    credential: &Value,
    marketplace: &PublicIdentity,
    holder: &PublicIdentity,
    now: &str,
) -> Result<CreatorStatus, CredentialError> {
    if !has_type(credential, CREATOR_CREDENTIAL) {
        return Err(CredentialError::WrongType {
            expected: CREATOR_CREDENTIAL,
            found: credential["type"].to_string(),
        });
    }
    let proof = integrity::verify(credential)?;
    let issuer = credential["issuer"].as_str().unwrap_or_default().to_owned();
    if proof.signer != *marketplace || issuer != marketplace.to_string() {
        return Err(CredentialError::WrongIssuer {
            expected: marketplace.to_string(),
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
            found: subject,
        });
    }
    let now_time = seconds("now", now)?;
    let valid_from = credential["validFrom"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if seconds("validFrom", &valid_from)? > now_time {
        return Err(CredentialError::NotYetValid { valid_from });
    }
    let valid_until = credential["validUntil"].as_str().map(str::to_owned);
    if let Some(until) = &valid_until
        && seconds("validUntil", until)? < now_time
    {
        return Err(CredentialError::Expired {
            valid_until: until.clone(),
        });
    }
    Ok(CreatorStatus {
        issuer,
        holder: subject,
        name: credential["credentialSubject"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        valid_from,
        valid_until,
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
        "type": ["VerifiablePresentation"],
        "holder": holder.public().to_string(),
        "verifiableCredential": credentials,
    });
    let mut extra = Map::new();
    extra.insert("challenge".into(), challenge.into());
    extra.insert("domain".into(), domain.into());
    integrity::sign_with(&presentation, holder, created, "authentication", extra)
}

/// What a marketplace learns from an acceptable presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedPresentation {
    pub creator: CreatorStatus,
    /// The dataset credentials in it, each signed by the creator.
    pub datasets: Vec<Value>,
}

/// Checks a presentation as the marketplace would: its proof answers `challenge` for `domain` and
/// was made by its holder; it carries a valid creator credential from `marketplace` for that holder;
/// every other credential in it is a dataset credential the holder signed.
pub fn check_presentation(
    presentation: &Value,
    marketplace: &PublicIdentity,
    challenge: &str,
    domain: &str,
    now: &str,
) -> Result<AcceptedPresentation, CredentialError> {
    let proof = integrity::verify(presentation)?;
    if proof.proof_purpose != "authentication" {
        return Err(CredentialError::Field {
            field: "proofPurpose",
            detail: format!("{:?} is not authentication", proof.proof_purpose),
        });
    }
    if proof.challenge.as_deref() != Some(challenge) {
        return Err(CredentialError::WrongChallenge {
            expected: challenge.to_owned(),
            found: proof.challenge,
        });
    }
    if proof.domain.as_deref() != Some(domain) {
        return Err(CredentialError::Field {
            field: "domain",
            detail: format!("expected {domain:?}, found {:?}", proof.domain),
        });
    }
    if presentation["holder"].as_str() != Some(&proof.signer.to_string()) {
        return Err(CredentialError::WrongHolder {
            expected: proof.signer.to_string(),
            found: presentation["holder"].to_string(),
        });
    }
    let credentials = presentation["verifiableCredential"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (creator, datasets): (Vec<Value>, Vec<Value>) = credentials
        .into_iter()
        .partition(|c| has_type(c, CREATOR_CREDENTIAL));
    let creator = creator.first().ok_or(CredentialError::Field {
        field: "verifiableCredential",
        detail: "no creator credential".into(),
    })?;
    let creator = check(creator, marketplace, &proof.signer, now)?;
    for dataset in &datasets {
        let signed = integrity::verify(dataset)?;
        if signed.signer != proof.signer {
            return Err(CredentialError::WrongIssuer {
                expected: proof.signer.to_string(),
                found: signed.signer.to_string(),
            });
        }
    }
    Ok(AcceptedPresentation { creator, datasets })
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
        assert!(matches!(early, Err(CredentialError::NotYetValid { .. })));
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
            problem: None,
        }))
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
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            let Ok(item) = serde_json::from_slice::<Kept>(&bytes) else {
                continue;
            };
            let holder = item.credential["credentialSubject"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let problem = match (
                item.marketplace.parse::<PublicIdentity>(),
                holder.parse::<PublicIdentity>(),
            ) {
                (Ok(market), Ok(h)) => check(&item.credential, &market, &h, now)
                    .err()
                    .map(|e| e.to_string()),
                _ => Some("the stored credential names no valid did:key".to_owned()),
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
        let later = shelf.list("2027-06-01T00:00:00Z").unwrap();
        assert!(later[0].problem.as_deref().unwrap().contains("expired"));
    }
}
