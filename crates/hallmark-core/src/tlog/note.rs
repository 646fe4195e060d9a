//! Checkpoints as signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note) signed with a `did:key`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use signed_note::{Note, NoteError, StandardVerifier, VerifierList};

use super::{Hash, Result, TlogError, excerpt};
use crate::did::{PublicIdentity, SigningIdentity};

/// The longest checkpoint note read (1 MiB).
pub const MAX_CHECKPOINT_BYTES: usize = 1 << 20;

/// Signature type byte of Ed25519 in signed-note keys.
const ALG_ED25519: u8 = 0x01;

/// A verified checkpoint: the log named `origin` had `size` entries with Merkle root `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

/// The encoded public key (`0x01 ‖ Ed25519 key`) signed notes name keys by.
fn encoded_key(public: &PublicIdentity) -> Vec<u8> {
    let mut key = vec![ALG_ED25519];
    key.extend_from_slice(public.key().as_bytes());
    key
}

fn check_origin(origin: &str) -> Result<()> {
    if !signed_note::is_key_name_valid(origin) || origin.chars().any(char::is_control) {
        return Err(TlogError::InvalidOrigin(excerpt(origin)));
    }
    Ok(())
}

/// Signs with a [`SigningIdentity`] under the key name `origin`.
struct OriginSigner<'a> {
    origin: &'a str,
    id: u32,
    key: &'a SigningIdentity,
}

impl signed_note::Signer for OriginSigner<'_> {
    fn name(&self) -> &str {
        self.origin
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// The signed checkpoint note for a tree of `size` entries with root `root`:
/// `<origin>\n<size>\n<base64 root>\n\n— <origin> <base64(key id ‖ signature)>\n`.
/// The key name is the origin, as tlog-checkpoint recommends.
pub fn sign_checkpoint(
    identity: &SigningIdentity,
    origin: &str,
    size: u64,
    root: &Hash,
) -> Result<String> {
    check_origin(origin)?;
    let text = format!("{origin}\n{size}\n{}\n", BASE64.encode(root));
    let signer = OriginSigner {
        origin,
        id: signed_note::key_id(origin, &encoded_key(&identity.public())),
        key: identity,
    };
    let mut note =
        Note::new(text.as_bytes(), &[]).map_err(|e| TlogError::MalformedNote(e.to_string()))?;
    note.add_sigs(&[&signer])
        .map_err(|e| TlogError::MalformedNote(e.to_string()))?;
    String::from_utf8(note.to_bytes()).map_err(|e| TlogError::MalformedNote(e.to_string()))
}

/// The verifier key string of the log's key (`<origin>+<8 hex key id>+<base64(0x01 ‖ key)>`), as
/// Go's `note.NewVerifier` and other C2SP tools take it.
pub fn verifier_key(origin: &str, public: &PublicIdentity) -> Result<String> {
    check_origin(origin)?;
    Ok(signed_note::new_ed25519_verifier_key(origin, public.key()))
}

/// Opens a checkpoint note: checks it carries a valid signature by `public` under the key name
/// `origin` (other signers' lines, such as witnesses', are ignored), then parses its body
/// strictly: exactly `<origin>\n<size>\n<base64 root>\n`, the origin equal to `origin`, the size in
/// canonical decimal, the root 32 bytes in canonical base64. Refuses CR, text over 1 MiB,
/// extension lines and any other trailing text.
pub fn open_checkpoint(text: &str, origin: &str, public: &PublicIdentity) -> Result<Checkpoint> {
    check_origin(origin)?;
    if text.len() > MAX_CHECKPOINT_BYTES {
        return Err(TlogError::TooLarge {
            what: "checkpoint",
            length: text.len(),
            max: MAX_CHECKPOINT_BYTES,
        });
    }
    if text.contains('\r') {
        return Err(TlogError::MalformedNote(
            "it contains a carriage return (CR); notes use LF line ends only".into(),
        ));
    }
    let note = Note::from_bytes(text.as_bytes()).map_err(|e| match e {
        NoteError::MalformedNote => TlogError::MalformedNote(
            "it is not text, a blank line and signature lines ending in a newline".into(),
        ),
        other => TlogError::MalformedNote(other.to_string()),
    })?;
    let verifier = StandardVerifier::new(&verifier_key(origin, public)?)
        .map_err(|e| TlogError::MalformedNote(e.to_string()))?;
    let known = VerifierList::new(vec![Box::new(verifier)]);
    note.verify(&known).map_err(|e| match e {
        NoteError::UnverifiedNote => TlogError::NotSigned {
            origin: origin.to_owned(),
        },
        NoteError::InvalidSignature { .. } => TlogError::BadSignature {
            origin: origin.to_owned(),
        },
        other => TlogError::MalformedNote(other.to_string()),
    })?;
    let body = std::str::from_utf8(note.text())
        .map_err(|_| TlogError::MalformedCheckpoint("the text is not UTF-8"))?;
    let (size, root) = parse_body(body, origin)?;
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

/// Parses `<origin>\n<size>\n<base64 root>\n`, refusing anything else.
fn parse_body(body: &str, origin: &str) -> Result<(u64, Hash)> {
    let body = body
        .strip_suffix('\n')
        .ok_or(TlogError::MalformedCheckpoint(
            "the text does not end in a newline",
        ))?;
    let mut lines = body.split('\n');
    let (Some(found), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(TlogError::MalformedCheckpoint(
            "it has fewer than three lines (origin, size, root)",
        ));
    };
    if lines.next().is_some() {
        return Err(TlogError::MalformedCheckpoint(
            "it has lines after the root (extension lines are not accepted)",
        ));
    }
    if found != origin {
        return Err(TlogError::WrongOrigin {
            expected: origin.to_owned(),
            found: excerpt(found),
        });
    }
    let size = parse_decimal(size).ok_or(TlogError::MalformedCheckpoint(
        "the tree size is not a decimal number",
    ))?;
    let root = parse_hash(root).ok_or(TlogError::MalformedCheckpoint(
        "the root is not 32 bytes in base64",
    ))?;
    Ok((size, root))
}

/// A `u64` in canonical decimal (digits only, no leading zero but for `0`).
pub(super) fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

/// A hash in canonical standard base64 (padded, no other spelling of the same bytes).
pub(super) fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 44 {
        return None;
    }
    let bytes = BASE64.decode(text).ok()?;
    let hash: Hash = bytes.try_into().ok()?;
    (BASE64.encode(hash) == text).then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "market.example/log";

    fn signed() -> (SigningIdentity, String) {
        let key = SigningIdentity::from_secret(&[7; 32]);
        let note = sign_checkpoint(&key, ORIGIN, 12, &[9; 32]).expect("sign");
        (key, note)
    }

    #[test]
    fn a_checkpoint_round_trips_and_has_the_c2sp_shape() {
        let (key, note) = signed();
        let root64 = BASE64.encode([9u8; 32]);
        let head = format!("{ORIGIN}\n12\n{root64}\n\n\u{2014} {ORIGIN} ");
        assert!(note.starts_with(&head), "{note}");
        assert!(note.ends_with('\n'));
        let sig = BASE64
            .decode(note[head.len()..].trim_end())
            .expect("base64 signature");
        assert_eq!(sig.len(), 4 + 64);
        let vkey = verifier_key(ORIGIN, &key.public()).expect("vkey");
        let id = u32::from_str_radix(vkey.split('+').nth(1).expect("id"), 16).expect("hex");
        assert_eq!(sig[..4], id.to_be_bytes());
        let checkpoint = open_checkpoint(&note, ORIGIN, &key.public()).expect("open");
        assert_eq!(
            checkpoint,
            Checkpoint {
                origin: ORIGIN.to_owned(),
                size: 12,
                root: [9; 32]
            }
        );
    }

    #[test]
    fn the_verifier_key_follows_the_key_id_rule() {
        use sha2::{Digest, Sha256};
        let key = SigningIdentity::from_secret(&[7; 32]);
        let public = key.public();
        let vkey = verifier_key(ORIGIN, &public).expect("vkey");
        let mut encoded = vec![1u8];
        encoded.extend_from_slice(public.key().as_bytes());
        let mut h = Sha256::new();
        h.update(ORIGIN.as_bytes());
        h.update(b"\n");
        h.update(&encoded);
        let id = hex::encode(&h.finalize()[..4]);
        assert_eq!(vkey, format!("{ORIGIN}+{id}+{}", BASE64.encode(&encoded)));
    }

    #[test]
    fn altered_or_foreign_checkpoints_are_refused() {
        let (key, note) = signed();
        let public = key.public();
        let other = SigningIdentity::from_secret(&[8; 32]).public();
        assert!(matches!(
            open_checkpoint(&note, ORIGIN, &other),
            Err(TlogError::NotSigned { .. })
        ));
        assert!(matches!(
            open_checkpoint(&note.replacen("\n12\n", "\n13\n", 1), ORIGIN, &public),
            Err(TlogError::BadSignature { .. })
        ));
        assert!(matches!(
            open_checkpoint(&note, "other.example/log", &public),
            Err(TlogError::NotSigned { .. })
        ));
        assert!(matches!(
            open_checkpoint(&note.replace('\n', "\r\n"), ORIGIN, &public),
            Err(TlogError::MalformedNote(_))
        ));
        let unsigned = note.split("\n\n").next().expect("body").to_owned() + "\n";
        assert!(open_checkpoint(&unsigned, ORIGIN, &public).is_err());
        let huge = "a".repeat(MAX_CHECKPOINT_BYTES + 1);
        assert!(matches!(
            open_checkpoint(&huge, ORIGIN, &public),
            Err(TlogError::TooLarge { .. })
        ));
        assert!(open_checkpoint(&format!("{note}junk"), ORIGIN, &public).is_err());
    }

    /// Signs an arbitrary body with the log's key name, to test the body parser behind a valid signature.
    fn sign_body(key: &SigningIdentity, body: &str) -> String {
        let signer = OriginSigner {
            origin: ORIGIN,
            id: signed_note::key_id(ORIGIN, &encoded_key(&key.public())),
            key,
        };
        let mut note = Note::new(body.as_bytes(), &[]).expect("note");
        note.add_sigs(&[&signer]).expect("sign");
        String::from_utf8(note.to_bytes()).expect("utf-8")
    }

    #[test]
    fn bodies_that_are_not_exactly_origin_size_root_are_refused() {
        let key = SigningIdentity::from_secret(&[7; 32]);
        let root = BASE64.encode([9u8; 32]);
        let good = sign_body(&key, &format!("{ORIGIN}\n12\n{root}\n"));
        assert!(open_checkpoint(&good, ORIGIN, &key.public()).is_ok());
        let bad = [
            format!("other.example\n12\n{root}\n"),
            format!("{ORIGIN}\n012\n{root}\n"),
            format!("{ORIGIN}\n+12\n{root}\n"),
            format!("{ORIGIN}\n0x12\n{root}\n"),
            format!("{ORIGIN}\n18446744073709551616\n{root}\n"),
            format!("{ORIGIN}\n12\n{}\n", &root[..40]),
            format!("{ORIGIN}\n12\n{}\n", BASE64.encode([9u8; 31])),
            format!("{ORIGIN}\n12\n{root}\nextension\n"),
            format!("{ORIGIN}\n12\n"),
        ];
        for body in bad {
            let note = sign_body(&key, &body);
            assert!(
                open_checkpoint(&note, ORIGIN, &key.public()).is_err(),
                "accepted {body:?}"
            );
        }
    }

    #[test]
    fn origins_a_note_cannot_carry_are_refused() {
        let key = SigningIdentity::from_secret(&[7; 32]);
        for origin in ["", "a b", "a+b", "a\nb"] {
            assert!(matches!(
                sign_checkpoint(&key, origin, 1, &[0; 32]),
                Err(TlogError::InvalidOrigin(_))
            ));
        }
    }
}
