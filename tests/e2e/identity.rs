//! The first run: create a signing identity, back it up, then sign and verify a sealed dataset.

use hallmark_tests::{App, SOME_TERMS};

/// A backup passphrase that rates strong.
const PASSPHRASE: &str = "copper tundra whistle harbour";

#[tokio::test]
async fn first_run_identity_backup_then_sign_and_verify_a_sealed_dataset() {
    let folder = tempfile::Builder::new()
        .prefix("portfolio-")
        .tempdir()
        .unwrap();
    for i in 0..6 {
        std::fs::write(
            folder.path().join(format!("{i:02}.txt")),
            format!("caption {i}"),
        )
        .unwrap();
    }
    let root = folder.path().canonicalize().unwrap();
    let keep = tempfile::tempdir().unwrap();
    let backup = keep.path().join("identity.age");

    let app = App::launch_first_run().await.unwrap();
    app.fill("[data-testid=first-run-name]", "Ana Example")
        .await
        .unwrap();
    app.click("[data-testid=first-run-create]").await.unwrap();
    let did = app
        .wait_attr("[data-testid=first-run-identity]", "data-did", |d| {
            !d.is_empty()
        })
        .await
        .unwrap();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    app.screenshot("first-run-identity").await.unwrap();

    app.fill("[data-testid=backup-path]", &backup.to_string_lossy())
        .await
        .unwrap();
    // A weak passphrase, then one typed differently twice, are refused before anything is written.
    app.fill("[data-testid=backup-passphrase]", "password1")
        .await
        .unwrap();
    app.click("[data-testid=backup-identity]").await.unwrap();
    let weak = app.text("[data-testid=backup-problem]").await.unwrap();
    assert!(weak.contains("easy to guess"), "{weak}");
    assert!(!backup.exists());
    app.fill("[data-testid=backup-passphrase]", PASSPHRASE)
        .await
        .unwrap();
    app.fill("[data-testid=backup-passphrase-repeat]", "copper tundra")
        .await
        .unwrap();
    let score: u8 = app
        .wait_attr("[data-testid=passphrase-strength]", "data-score", |s| {
            !s.is_empty()
        })
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(score >= 3, "{PASSPHRASE:?} rated {score}");
    app.wait_text("[data-testid=backup-problem]", |t| t.contains("differ"))
        .await
        .unwrap();
    assert!(!backup.exists());
    app.fill("[data-testid=backup-passphrase-repeat]", PASSPHRASE)
        .await
        .unwrap();
    app.click("[data-testid=backup-identity]").await.unwrap();
    app.find("[data-testid=backup-done]").await.unwrap();
    let (record, key) = hallmark_keys::key_file::read(&backup, PASSPHRASE).unwrap();
    assert_eq!(
        (record.did.as_str(), record.name.as_str()),
        (did.as_str(), "Ana Example")
    );
    // The secret never reaches the page.
    let page = app.client.source().await.unwrap();
    assert!(!page.contains(key.secret_multibase().as_str()));
    app.click("[data-testid=first-run-done]").await.unwrap();

    app.open_folder(&root).await.unwrap();
    app.fill("[data-testid=seal-creator]", "Ana Example")
        .await
        .unwrap();
    app.choose_terms(&SOME_TERMS).await.unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    app.find("[data-testid=sealed-dataset]").await.unwrap();

    app.click("[data-testid=sign-dataset]").await.unwrap();
    app.wait_attr("[data-testid=verdict]", "data-signed", |v| v == "true")
        .await
        .unwrap();
    let verdict = app
        .find("[data-testid=verdict]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        verdict,
        format!("Valid: signed by {did}, and every file matches what was signed.")
    );

    std::fs::write(root.join("03.txt"), "caption 3, edited").unwrap();
    // The watcher counts the edit; the green "Valid" from before goes, and signing waits for a
    // new seal.
    app.wait_attr("[data-testid=sealed-changes]", "data-total", |v| v == "1")
        .await
        .unwrap();
    let stale = app
        .client
        .find_all(fantoccini::Locator::Css(
            "[data-testid=verdict][data-valid=true]",
        ))
        .await
        .unwrap();
    assert!(stale.is_empty(), "a Valid verdict next to a changed folder");
    let sign = app.find("[data-testid=sign-dataset]").await.unwrap();
    assert!(
        !sign.is_enabled().await.unwrap(),
        "Sign stays enabled while the folder changed since the seal"
    );
    app.click("[data-testid=verify-dataset]").await.unwrap();
    app.wait_attr("[data-testid=verdict]", "data-valid", |v| v == "false")
        .await
        .unwrap();
    let verdict = app
        .find("[data-testid=verdict]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        verdict.starts_with("Not valid: 1 difference from what was sealed, starting with 03.txt."),
        "{verdict}"
    );
    app.client
        .execute(
            "document.querySelector('[data-testid=verdict]').scrollIntoView({block: 'center'})",
            vec![],
        )
        .await
        .unwrap();
    app.screenshot("datasets-verified").await.unwrap();

    // A creator credential from the marketplace, issued with a test issuer key to this identity.
    let marketplace = hallmark_core::did::SigningIdentity::generate();
    let issued = hallmark_core::creator::issue(
        &marketplace,
        &did.parse().unwrap(),
        "Ana Example",
        "2026-01-01T00:00:00Z",
        "2099-01-01T00:00:00Z",
    )
    .unwrap();
    let credential = keep.path().join("creator.json");
    std::fs::write(&credential, serde_json::to_vec(&issued).unwrap()).unwrap();
    app.click("[data-testid=nav-settings]").await.unwrap();
    app.fill(
        "[data-testid=credential-path]",
        &credential.to_string_lossy(),
    )
    .await
    .unwrap();
    let stranger = hallmark_core::did::SigningIdentity::generate()
        .public()
        .to_string();
    app.fill("[data-testid=credential-marketplace]", &stranger)
        .await
        .unwrap();
    app.click("[data-testid=import-credential]").await.unwrap();
    let refused = app
        .find("[data-testid=credential-error]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        refused.starts_with("Not imported: the credential was issued by"),
        "{refused}"
    );
    app.fill(
        "[data-testid=credential-marketplace]",
        &marketplace.public().to_string(),
    )
    .await
    .unwrap();
    app.click("[data-testid=import-credential]").await.unwrap();
    let valid = app
        .wait_attr("[data-testid=creator-credential]", "data-valid", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    assert_eq!(valid, "true");
    let row = app
        .find("[data-testid=creator-credential]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.ends_with("valid until 2099-01-01T00:00:00Z"), "{row}");
    app.screenshot("settings-identity").await.unwrap();
    app.close().await.unwrap();
}

/// A keyring that cannot be read (locked, its prompt dismissed, not running) is said as such with
/// a way to try again, never taken for a first run, and no CLI flag is shown to the creator.
#[tokio::test]
async fn an_unreachable_keyring_is_said_and_retried_not_a_first_run() {
    let app = App::launch_without_keyring().await.unwrap();
    let problem = app.find("[data-testid=keyring-problem]").await.unwrap();
    assert_eq!(
        problem.attr("data-code").await.unwrap().as_deref(),
        Some("no_keyring")
    );
    let text = problem.text().await.unwrap();
    assert!(
        text.contains("Your keyring is locked or unavailable"),
        "{text}"
    );
    assert!(!text.contains("--"), "a CLI flag in: {text}");
    assert!(
        app.client
            .find(fantoccini::Locator::Css("[data-testid=first-run]"))
            .await
            .is_err(),
        "the first-run screen is shown"
    );
    app.click("[data-testid=keyring-retry]").await.unwrap();
    app.find("[data-testid=keyring-problem]").await.unwrap();
    app.screenshot("keyring-unavailable").await.unwrap();
    app.click("[data-testid=keyring-continue]").await.unwrap();
    app.find("[data-testid=folder-path]").await.unwrap();
    app.close().await.unwrap();
}

/// Replacing a key: the old key signs the hand-over, the new one signs from then on, the old one
/// is shown as replaced; deleting one asks for its name and then removes it from the keyring.
#[tokio::test]
async fn an_identity_is_replaced_by_a_new_key_and_an_old_one_deleted_on_confirmation() {
    let app = App::launch_with_identity("Ana Example").await.unwrap();
    app.click("[data-testid=nav-settings]").await.unwrap();
    let old = app
        .wait_attr("[data-testid=identity]", "data-did", |d| !d.is_empty())
        .await
        .unwrap();
    app.click("[data-testid=rotate-identity]").await.unwrap();
    app.click("[data-testid=confirm-rotate]").await.unwrap();
    app.find("[data-testid=rotated]").await.unwrap();
    let current = app
        .find("[data-testid=identity][data-state=current]")
        .await
        .unwrap();
    let new = current.attr("data-did").await.unwrap().unwrap();
    assert_ne!(new, old);
    let replaced = app
        .find("[data-testid=identity][data-state=replaced]")
        .await
        .unwrap();
    assert_eq!(replaced.attr("data-did").await.unwrap(), Some(old.clone()));
    let words = replaced.text().await.unwrap();
    assert!(words.contains("Replaced"), "{words}");
    assert!(
        words.contains(&format!("…{}", &new[new.len() - 8..])),
        "{words}"
    );

    // The hand-over is signed by the old key and names the new one.
    let rotations = app.data_dir().join("rotations");
    let statement = std::fs::read_dir(&rotations)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let rotation =
        hallmark_core::rotation::open(&std::fs::read(&statement).unwrap(), "2100-01-01T00:00:00Z")
            .unwrap();
    assert_eq!(
        (rotation.from.as_str(), rotation.to.as_str()),
        (old.as_str(), new.as_str())
    );
    app.screenshot("settings-identity-rotated").await.unwrap();

    // Deleting the old key: refused until its name is typed.
    app.client
        .find(fantoccini::Locator::Css(&format!(
            "[data-testid=identity][data-did='{old}'] [data-testid=delete-identity]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let delete = app.find("[data-testid=confirm-delete]").await.unwrap();
    assert!(!delete.is_enabled().await.unwrap());
    app.fill("[data-testid=delete-confirmation]", "Ana")
        .await
        .unwrap();
    assert!(!delete.is_enabled().await.unwrap());
    app.fill("[data-testid=delete-confirmation]", "Ana Example")
        .await
        .unwrap();
    app.screenshot("settings-identity-delete").await.unwrap();
    // Not while a marketplace knows the creator by it: Hallmark signs in there with that key.
    let marketplaces = hallmark_client::joined::JoinedStore::new(&app.data_dir());
    marketplaces
        .save(&hallmark_client::joined::Joined {
            origin: "http://127.0.0.1:9".into(),
            marketplace: hallmark_core::did::SigningIdentity::generate()
                .public()
                .to_string(),
            creator: old.clone(),
            name: "Ana Example".into(),
            joined_at: "2026-12-08T00:00:00Z".into(),
        })
        .unwrap();
    app.click("[data-testid=confirm-delete]").await.unwrap();
    let kept = app.text("[data-testid=identity-error]").await.unwrap();
    assert!(kept.contains("joined http://127.0.0.1:9 with"), "{kept}");
    std::fs::remove_dir_all(app.data_dir().join("marketplaces")).unwrap();
    app.click("[data-testid=confirm-delete]").await.unwrap();
    app.wait_attr("[data-testid=identity]", "data-did", |d| d == new)
        .await
        .unwrap();
    let rows = app
        .client
        .find_all(fantoccini::Locator::Css("[data-testid=identity]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let keys = hallmark_keys::KeyringStore::with_service(&app.keyring_service);
    let left: Vec<String> = hallmark_core::keys::KeyStore::list(&keys)
        .unwrap()
        .into_iter()
        .map(|r| r.did)
        .collect();
    assert_eq!(left, vec![new]);
    app.close().await.unwrap();
}
