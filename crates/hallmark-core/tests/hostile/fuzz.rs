//! Property: a signed document whose bytes were changed is never accepted unless the change left
//! the signed content as it was (JCS-equal: whitespace, say), and checking never panics.

use hallmark_core::integrity::canonical;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed};

use crate::seeds::{KINDS, Kind};

/// How a seed's bytes are changed.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
    Replace(Vec<u8>),
    /// `"key": value,` inserted first in the object opening at the chosen `{`: a duplicate when the
    /// object has the key, a new signed-over member when it does not.
    DuplicateKey(Index, &'static str, &'static str),
}

const KEYS: [&str; 12] = [
    "issuer",
    "type",
    "validFrom",
    "validUntil",
    "proofPurpose",
    "created",
    "verificationMethod",
    "proofValue",
    "challenge",
    "id",
    "holder",
    "verifiableCredential",
];

const VALUES: [&str; 7] = [
    r#""2020-01-01T00:00:00Z""#,
    r#""2099-01-01T00:00:00Z""#,
    r#""authentication""#,
    r#"["VerifiableCredential", "DatasetCredential"]"#,
    r#""did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK""#,
    "null",
    "[]",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1..32usize).prop_map(|(i, n)| Mutation::Remove(i, n)),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Mutation::Replace),
        (
            any::<Index>(),
            proptest::sample::select(&KEYS[..]),
            proptest::sample::select(&VALUES[..])
        )
            .prop_map(|(i, k, v)| Mutation::DuplicateKey(i, k, v)),
    ]
}

fn apply(seed: &[u8], mutation: &Mutation) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    match mutation {
        Mutation::Truncate(i) => bytes.truncate(i.index(seed.len())),
        Mutation::Flip(i, x) => bytes[i.index(seed.len())] ^= x,
        Mutation::Insert(i, more) => {
            let at = i.index(seed.len() + 1);
            bytes.splice(at..at, more.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let at = i.index(seed.len());
            bytes.drain(at..(at + n).min(seed.len()));
        }
        Mutation::Replace(other) => bytes.clone_from(other),
        Mutation::DuplicateKey(i, key, value) => {
            let opens: Vec<usize> = (0..seed.len()).filter(|&j| seed[j] == b'{').collect();
            let at = opens[i.index(opens.len())] + 1;
            let member = format!("\"{key}\": {value},");
            bytes.splice(at..at, member.bytes());
        }
    }
    bytes
}

/// What the checks accepted must have the seed's signed content, exactly. An inserted member is
/// never accepted: it either repeats a key (which a first-wins reader would read, and a last-wins
/// one would not) or adds content the signature does not cover.
fn never_accepts_changed_content(kind: Kind, mutation: &Mutation) -> Result<(), TestCaseError> {
    let seed = kind.seed();
    let changed = apply(&seed, mutation);
    if let Mutation::DuplicateKey(..) = mutation {
        prop_assert!(
            kind.accept(&changed).is_err(),
            "{:?} accepted an inserted member: {}",
            kind,
            String::from_utf8_lossy(&changed)
        );
    }
    if let Ok(document) = kind.accept(&changed) {
        let original = kind.accept(&seed).map_err(TestCaseError::fail)?;
        prop_assert_eq!(
            canonical(&document).ok(),
            canonical(&original).ok(),
            "{:?} accepted changed content: {}",
            kind,
            String::from_utf8_lossy(&changed)
        );
    }
    Ok(())
}

/// Deterministic by default (a fixed seed); `PROPTEST_RNG_SEED=<n>` explores elsewhere.
fn config() -> Config {
    let default = Config::default();
    Config {
        cases: 96,
        failure_persistence: None,
        rng_seed: match default.rng_seed {
            RngSeed::Random => RngSeed::Fixed(0x4841_4c4c_4d41_524b),
            chosen => chosen,
        },
        ..default
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_changed_dataset_credential_is_never_accepted(m in mutation()) {
        never_accepts_changed_content(Kind::DatasetCredential, &m)?;
    }

    #[test]
    fn a_changed_creator_credential_is_never_accepted(m in mutation()) {
        never_accepts_changed_content(Kind::CreatorCredential, &m)?;
    }

    #[test]
    fn a_changed_presentation_is_never_accepted(m in mutation()) {
        never_accepts_changed_content(Kind::Presentation, &m)?;
    }
}

#[test]
fn whitespace_outside_strings_does_not_change_what_is_signed() {
    // The property's other side: a change that keeps the signed content is accepted, so the
    // property above is not vacuous.
    for kind in KINDS {
        let seed = kind.seed();
        let spaced: Vec<u8> = seed
            .iter()
            .flat_map(|&b| {
                if b == b'\n' {
                    vec![b' ', b'\r', b'\n', b'\t']
                } else {
                    vec![b]
                }
            })
            .collect();
        assert_ne!(spaced, seed);
        kind.accept(&spaced).unwrap();
    }
}
