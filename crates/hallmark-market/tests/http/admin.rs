//! The admin's command, `hallmark-market creator verify`, against the data folder of a running marketplace.

use std::process::Command;

use hallmark_core::did::SigningIdentity;
use serde_json::Value;

use crate::harness::Market;

fn verify(market: &Market, did: &str, level: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hallmark-market"))
        .args(["creator", "verify", did, "--level", level, "--data"])
        .arg(market.data.path())
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_admin_raises_a_creators_level_and_their_next_credential_states_it() {
    let market = Market::start().await;
    let key = SigningIdentity::generate();
    let (token, _) = market.join(&key, "Ana").await;
    let did = key.public().to_string();

    let output = verify(&market, &did, "contact-verified");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("contact-verified"));
    let me: Value = market
        .http
        .get(market.url("/v1/creators/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["level"], "contact-verified");
    assert_eq!(
        me["credential"]["credentialSubject"]["verificationLevel"],
        "contact-verified"
    );

    // A stranger is not registered: nothing changes and the admin is told why.
    let stranger = SigningIdentity::generate().public().to_string();
    let output = verify(&market, &stranger, "identity-verified");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no creator"));

    // A folder that is not a marketplace's: no key is made up.
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hallmark-market"))
        .args([
            "creator",
            "verify",
            &did,
            "--level",
            "identity-verified",
            "--data",
        ])
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no marketplace key"));
    assert!(!empty.path().join("marketplace.key").exists());

    // An unknown level is refused before anything is opened.
    let output = verify(&market, &did, "gold");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("self-asserted, contact-verified, identity-verified"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_data_folder_is_refused() {
    let market = Market::start().await;
    let output = Command::new(env!("CARGO_BIN_EXE_hallmark-market"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(market.data.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another hallmark-market is serving"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_data_folder_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("market");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hallmark-market"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("chmod go-w"), "{stderr}");
    assert!(!data.join("marketplace.key").exists());
}
