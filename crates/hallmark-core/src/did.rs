//! `did:key` identities for Ed25519 keys (`did:key:z6Mk…`), and the creator's secret signing key.
//!
//! The public side has `Display`/`FromStr`; the secret side has neither, prints nothing in `Debug`,
//! exports only as a [`zeroize::Zeroizing`] string, and wipes its bytes when dropped.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// Multicodec prefix of an Ed25519 public key.
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Multicodec prefix of an Ed25519 private key (as in the W3C test vectors' `privateKeyMultibase`).
const ED25519_PRIV: [u8; 2] = [0x80, 0x26];

/// The longest multibase key text decoded. An Ed25519 key with its two-byte multicodec prefix is
/// 34 bytes, at most 47 base58 characters after the `z`; base58 decoding takes time quadratic in
/// the length, so longer text is refused before it is decoded.
pub const MAX_MULTIBASE_CHARS: usize = 64;

/// How much of a refused identifier an error message quotes.
const SHOWN_CHARS: usize = 80;

/// Why a `did:key` or key text was refused. Messages quote at most the first 80 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DidError {
    #[error("{0:?} is not a did:key (it must start with did:key:z6Mk)")]
    NotDidKey(String),
    #[error("{0:?} is not an Ed25519 key in base58btc multibase")]
    BadKey(String),
    #[error(
        "the key text is {length} characters long, too long for an Ed25519 key (at most {max}); it was not decoded"
    )]
    TooLong { length: usize, max: usize },
}

fn shown(text: &str) -> String {
    crate::json::excerpt(text, SHOWN_CHARS)
}

/// The bytes of multibase base58btc `text` (`z…`), refusing text too long for a key before decoding.
fn decode_multibase(text: &str, bad: impl Fn() -> DidError) -> Result<Vec<u8>, DidError> {
    if text.len() > MAX_MULTIBASE_CHARS {
        return Err(DidError::TooLong {
            length: text.len(),
            max: MAX_MULTIBASE_CHARS,
        });
    }
    bs58::decode(text.strip_prefix('z').ok_or_else(&bad)?)
        .into_vec()
        .map_err(|_| bad())
}

/// A creator's public identity: an Ed25519 public key shown as `did:key:z6Mk…`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicIdentity(VerifyingKey);

impl PublicIdentity {
    pub fn key(&self) -> &VerifyingKey {
        &self.0
    }

    /// The key as multibase: `z` + base58btc(0xed01 ‖ key).
    pub fn multibase(&self) -> String {
        let mut bytes = ED25519_PUB.to_vec();
        bytes.extend_from_slice(self.0.as_bytes());
        format!("z{}", bs58::encode(bytes).into_string())
    }

    /// The verification method that names this key: `did:key:z6Mk…#z6Mk…`.
    pub fn verification_method(&self) -> String {
        let mb = self.multibase();
        format!("did:key:{mb}#{mb}")
    }

    /// Parses a multibase Ed25519 public key (`z6Mk…`).
    pub fn from_multibase(text: &str) -> Result<Self, DidError> {
        let bad = || DidError::BadKey(shown(text));
        let bytes = decode_multibase(text, bad)?;
        let key: [u8; 32] = bytes
            .strip_prefix(&ED25519_PUB[..])
            .and_then(|k| k.try_into().ok())
            .ok_or_else(bad)?;
        VerifyingKey::from_bytes(&key).map(Self).map_err(|_| bad())
    }
}

impl fmt::Display for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "did:key:{}", self.multibase())
    }
}

impl fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicIdentity({self})")
    }
}

impl FromStr for PublicIdentity {
    type Err = DidError;

    /// Parses `did:key:z6Mk…`, with or without the `#z6Mk…` fragment of a verification method;
    /// a fragment must name the same key.
    fn from_str(text: &str) -> Result<Self, DidError> {
        let rest = text
            .strip_prefix("did:key:")
            .ok_or_else(|| DidError::NotDidKey(shown(text)))?;
        let (key, fragment) = rest
            .split_once('#')
            .map_or((rest, None), |(k, f)| (k, Some(f)));
        if fragment.is_some_and(|f| f != key) {
            return Err(DidError::NotDidKey(shown(text)));
        }
        Self::from_multibase(key)
    }
}

/// The creator's secret signing key. No `Display`, no `Debug` output of the secret, wiped on drop.
pub struct SigningIdentity(SigningKey);

impl fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is never printed; the public identity says which key this is.
        write!(f, "SigningIdentity({})", self.public())
    }
}

impl SigningIdentity {
    /// A new key from the OS's random number generator.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The key from its 32 secret bytes.
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    /// Parses the `privateKeyMultibase` form: `z` + base58btc(0x8026 ‖ secret).
    pub fn from_multibase(text: &str) -> Result<Self, DidError> {
        let bad = || DidError::BadKey("(secret key)".to_owned());
        let bytes = Zeroizing::new(decode_multibase(text, bad)?);
        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .strip_prefix(&ED25519_PRIV[..])
                .and_then(|k| k.try_into().ok())
                .ok_or_else(bad)?,
        );
        Ok(Self::from_secret(&secret))
    }

    /// The secret in `privateKeyMultibase` form, for an encrypted backup only.
    pub fn secret_multibase(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(ED25519_PRIV.to_vec());
        bytes.extend_from_slice(self.0.as_bytes());
        Zeroizing::new(format!("z{}", bs58::encode(bytes.as_slice()).into_string()))
    }

    pub fn public(&self) -> PublicIdentity {
        PublicIdentity(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        self.0.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    const PRIVATE: &str = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq";

    #[test]
    fn the_w3c_key_pair_round_trips_through_did_key() {
        let key = SigningIdentity::from_multibase(PRIVATE).unwrap();
        assert_eq!(key.public().multibase(), PUBLIC);
        assert_eq!(key.public().to_string(), format!("did:key:{PUBLIC}"));
        assert_eq!(key.secret_multibase().as_str(), PRIVATE);
        let parsed: PublicIdentity = key.public().verification_method().parse().unwrap();
        assert_eq!(parsed, key.public());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = SigningIdentity::from_multibase(PRIVATE).unwrap();
        let shown = format!("{key:?}");
        assert!(
            !shown.contains(PRIVATE) && shown.contains(PUBLIC),
            "{shown}"
        );
    }

    #[test]
    fn bad_identifiers_are_refused_by_name() {
        assert!(matches!(
            "did:web:x".parse::<PublicIdentity>(),
            Err(DidError::NotDidKey(_))
        ));
        let other = SigningIdentity::generate().public().multibase();
        let mixed = format!("did:key:{PUBLIC}#{other}");
        assert!(
            mixed.parse::<PublicIdentity>().is_err(),
            "a fragment naming another key"
        );
        assert!(matches!(
            "did:key:z6MkXXX".parse::<PublicIdentity>(),
            Err(DidError::BadKey(_))
        ));
    }

    #[test]
    fn a_huge_key_is_refused_before_decoding_and_not_echoed() {
        let huge = format!("did:key:z6Mk{}", "2".repeat(320_000));
        let refused = huge.parse::<PublicIdentity>().unwrap_err();
        assert_eq!(
            refused,
            DidError::TooLong {
                length: 320_004,
                max: MAX_MULTIBASE_CHARS
            }
        );
        let refused = format!("did:key:{PUBLIC}#{}", "2".repeat(320_000))
            .parse::<PublicIdentity>()
            .unwrap_err();
        assert!(refused.to_string().len() < 300, "{refused}");
        assert!(matches!(
            SigningIdentity::from_multibase(&format!("z{}", "2".repeat(320_000))),
            Err(DidError::TooLong { .. })
        ));
        // The longest real key is well inside the cap.
        let longest = SigningIdentity::from_secret(&[0xff; 32])
            .public()
            .multibase();
        assert!(longest.len() <= MAX_MULTIBASE_CHARS, "{longest}");
    }
}
