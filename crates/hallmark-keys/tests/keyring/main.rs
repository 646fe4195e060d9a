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

fn record_of(key: &SigningIdentity, name: &str) -> KeyRecord {
    KeyRecord {
        did: key.public().to_string(),
        name: name.into(),
        created: "2026-11-23T10:00:00Z".into(),
    }
}

#[test]
fn keys_stored_at_once_through_many_handles_are_all_listed_and_load() {
    let service = format!("studio.hallmark.test.parallel.{}", std::process::id());
    let locks = tempfile::tempdir().unwrap();
    let keys: Vec<SigningIdentity> = (0..8).map(|_| SigningIdentity::generate()).collect();
    std::thread::scope(|scope| {
        for (i, key) in keys.iter().enumerate() {
            let (service, locks) = (&service, locks.path());
            scope.spawn(move || {
                // Each thread opens its own handle and lock file, as separate processes do.
                let store = KeyringStore::with_service(service).with_lock_dir(locks);
                store
                    .store(&record_of(key, &format!("Ana {i}")), key)
                    .unwrap();
            });
        }
    });
    let store = KeyringStore::with_service(&service).with_lock_dir(locks.path());
    let mut listed: Vec<String> = store.list().unwrap().into_iter().map(|r| r.did).collect();
    let mut made: Vec<String> = keys.iter().map(|k| k.public().to_string()).collect();
    listed.sort();
    made.sort();
    assert_eq!(listed, made);
    for key in &keys {
        let did = key.public().to_string();
        assert_eq!(store.load(&did).unwrap().public(), key.public());
        store.delete(&did).unwrap();
    }
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn a_change_stopped_half_way_is_settled_and_no_secret_is_left_unlisted() {
    let service = format!("studio.hallmark.test.settle.{}", std::process::id());
    let locks = tempfile::tempdir().unwrap();
    let store = KeyringStore::with_service(&service).with_lock_dir(locks.path());
    let raw = |user: &str| keyring::Entry::new(&service, user).unwrap();

    // One process stopped after writing its key's secret, another before writing its own: both
    // left their index entry pending.
    let written = SigningIdentity::generate();
    let never = SigningIdentity::generate();
    raw(&written.public().to_string())
        .set_password(&written.secret_multibase())
        .unwrap();
    let pending = |key: &SigningIdentity, name: &str| {
        let mut entry = serde_json::to_value(record_of(key, name)).unwrap();
        entry["pending"] = true.into();
        entry
    };
    let index = serde_json::json!([pending(&written, "Written"), pending(&never, "Never")]);
    raw("index").set_password(&index.to_string()).unwrap();

    assert_eq!(store.list().unwrap(), vec![record_of(&written, "Written")]);
    let settled = raw("index").get_password().unwrap();
    assert!(!settled.contains("pending"), "{settled}");
    assert_eq!(
        store.load(&written.public().to_string()).unwrap().public(),
        written.public()
    );

    // A secret with no index entry (as an older Hallmark could leave) can still be deleted.
    let orphan = SigningIdentity::generate();
    let orphan_did = orphan.public().to_string();
    raw(&orphan_did)
        .set_password(&orphan.secret_multibase())
        .unwrap();
    store.delete(&orphan_did).unwrap();
    assert!(matches!(
        raw(&orphan_did).get_password(),
        Err(keyring::Error::NoEntry)
    ));
    assert!(matches!(
        store.delete(&orphan_did),
        Err(KeyError::NotFound { .. })
    ));

    store.delete(&written.public().to_string()).unwrap();
    assert!(store.list().unwrap().is_empty());
    raw("index").delete_credential().unwrap();
}
