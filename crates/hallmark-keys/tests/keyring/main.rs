//! Against the real Secret Service: `scripts/test` runs these inside `dbus-run-session` with an
//! unlocked gnome-keyring, so keys really are written to and read from a keyring daemon.

// A test binary: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use hallmark_core::did::SigningIdentity;
use hallmark_core::keys::{KeyError, KeyRecord, KeyStore};
use hallmark_keys::KeyringStore;

#[test]
fn keys_round_trip_through_the_real_secret_service() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run under dbus-run-session with gnome-keyring unlocked, as scripts/test does"
    );
    let service = format!("studio.hallmark.test.{}", std::process::id());
    let store = KeyringStore::with_service(&service);
    assert!(store.list().unwrap().is_empty());
    let key = SigningIdentity::generate();
    let record = KeyRecord {
        did: key.public().to_string(),
        name: "Ana".into(),
        created: "2026-11-23T10:00:00Z".into(),
    };
    store.store(&record, &key).unwrap();

    // A second handle, as another process would open it, finds the same key.
    let again = KeyringStore::with_service(&service);
    assert_eq!(again.list().unwrap(), vec![record.clone()]);
    let (found, opened) = again.choose(None).unwrap();
    assert_eq!((found, opened.public()), (record.clone(), key.public()));

    again.delete(&record.did).unwrap();
    assert!(store.list().unwrap().is_empty());
    assert!(matches!(
        store.load(&record.did),
        Err(KeyError::NotFound { .. })
    ));
}
