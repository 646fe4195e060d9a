//! The fuzz seed corpus in `testdata/fuzz-seeds/`: valid signed documents, made here from fixed
//! keys (Ed25519 signatures are deterministic, so the files are reproducible byte for byte).
//!
//! Regenerate with `HALLMARK_WRITE_FUZZ_SEEDS=1 cargo test -p hallmark-core --test hostile seeds`.

use std::path::PathBuf;

use hallmark_core::creator;
use hallmark_core::did::{PublicIdentity, SigningIdentity};
use hallmark_core::integrity;
use serde_json::{Value, json};

/// The time every seed is judged at: after all of them were signed, before any expires.
pub const NOW: &str = "2026-11-23T10:00:00Z";
pub const CHALLENGE: &str = "nonce-fuzz-1";
pub const DOMAIN: &str = "market.example";

pub fn marketplace() -> SigningIdentity {
    SigningIdentity::from_secret(&[1; 32])
}

pub fn creator() -> SigningIdentity {
    SigningIdentity::from_secret(&[2; 32])
}

/// The kinds of document Hallmark verifies, each with the check a verifier runs on its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    DatasetCredential,
    CreatorCredential,
    Presentation,
}

pub const KINDS: [Kind; 3] = [
    Kind::DatasetCredential,
    Kind::CreatorCredential,
    Kind::Presentation,
];

impl Kind {
    pub fn file(self) -> &'static str {
        match self {
            Kind::DatasetCredential => "dataset-credential.json",
            Kind::CreatorCredential => "creator-credential.json",
            Kind::Presentation => "presentation.json",
        }
    }

    /// The stored seed's bytes.
    pub fn seed(self) -> Vec<u8> {
        std::fs::read(dir().join(self.file())).unwrap()
    }

    /// Parses `bytes` strictly and checks them as a verifier of this kind would, at [`NOW`].
    pub fn accept(self, bytes: &[u8]) -> Result<Value, String> {
        let document = creator::parse(bytes).map_err(|e| e.to_string())?;
        let holder: PublicIdentity = creator().public();
        let market = marketplace().public();
        let checked = match self {
            Kind::DatasetCredential => creator::check_dataset(&document, NOW).and_then(|s| {
                if s.issuer == holder {
                    Ok(())
                } else {
                    Err(creator::CredentialError::WrongIssuer {
                        expected: holder.to_string(),
                        found: s.issuer.to_string(),
                    })
                }
            }),
            Kind::CreatorCredential => creator::check(&document, &market, &holder, NOW).map(drop),
            Kind::Presentation => {
                creator::check_presentation(&document, &market, CHALLENGE, DOMAIN, NOW).map(drop)
            }
        };
        checked.map(|()| document).map_err(|e| e.to_string())
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz-seeds")
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap();
    bytes.push(b'\n');
    bytes
}

/// A dataset credential shaped as `credential::build` makes one, naming made-up digests.
fn dataset_credential() -> Value {
    let creator = creator();
    let did = creator.public().to_string();
    let unsigned = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "DatasetCredential"],
        "issuer": did,
        "validFrom": "2026-11-23T09:00:00Z",
        "name": "takes 1.0.0",
        "credentialSubject": {
            "id": format!("urn:sha256:{}", "ab".repeat(32)),
            "type": "Dataset",
            "name": "takes",
            "version": "1.0.0",
            "creator": did,
            "license": "CC-BY-4.0",
            "consent": {"trainingAllowed": true, "notes": "é – voice takes"},
            "shardCount": 3,
            "shardsMerkleRoot": format!("sha256:{}", "cd".repeat(32)),
        },
        "relatedResource": [
            {
                "id": "croissant.json",
                "mediaType": "application/ld+json",
                "digestSRI": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                "digestMultibase": "uEiDjsMRCmPwcFJr79MiZb7kkJ65B5GSbk0yklZkbeFK4VQ",
            },
            {
                "id": "index.jsonl",
                "mediaType": "application/jsonlines",
                "digestSRI": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                "digestMultibase": "uEiDjsMRCmPwcFJr79MiZb7kkJ65B5GSbk0yklZkbeFK4VQ",
            },
        ],
    });
    integrity::sign(
        &unsigned,
        &creator,
        "2026-11-23T09:00:00Z",
        integrity::ASSERTION_METHOD,
    )
    .unwrap()
}

fn creator_credential() -> Value {
    creator::issue(
        &marketplace(),
        &creator().public(),
        "Ana Example",
        "2026-01-01T00:00:00Z",
        "2099-01-01T00:00:00Z",
    )
    .unwrap()
}

fn presentation() -> Value {
    creator::present(
        &creator(),
        &[creator_credential(), dataset_credential()],
        CHALLENGE,
        DOMAIN,
        "2026-11-23T09:30:00Z",
    )
    .unwrap()
}

fn generated(kind: Kind) -> Vec<u8> {
    pretty(&match kind {
        Kind::DatasetCredential => dataset_credential(),
        Kind::CreatorCredential => creator_credential(),
        Kind::Presentation => presentation(),
    })
}

#[test]
fn the_seeds_are_what_the_generator_makes_and_each_is_accepted() {
    let write = std::env::var_os("HALLMARK_WRITE_FUZZ_SEEDS").is_some();
    for kind in KINDS {
        let made = generated(kind);
        if write {
            std::fs::write(dir().join(kind.file()), &made).unwrap();
        }
        assert!(
            made == kind.seed(),
            "{} is stale; regenerate it (see this file's header)",
            kind.file()
        );
        kind.accept(&made)
            .unwrap_or_else(|e| panic!("{}: {e}", kind.file()));
    }
}
