//! `hallmark market join`, `status` and `token` against a real marketplace.

use crate::{Market, Studio, closed_port_url, curl_with_token};

#[test]
fn a_joined_creator_gets_a_token_that_works_with_curl_and_a_status_that_works_offline() {
    let studio = Studio::new("join", "Ana");
    let server_data = tempfile::tempdir().unwrap();
    let mut market = Market::start(&server_data.path().join("market"), "127.0.0.1:0");

    let joined = studio
        .run(&[
            "--json",
            "market",
            "join",
            &market.url,
            "--name",
            "Ana Lima",
        ])
        .json();
    assert_eq!(joined["origin"], market.url.as_str());
    assert_eq!(
        joined["marketplace"],
        market.did.as_str(),
        "the pin is the server's key"
    );
    assert_eq!(joined["creator"], studio.did.as_str());
    assert_eq!(joined["name"], "Ana Lima");
    assert_eq!(joined["level"], "self-asserted");

    let status = studio.run(&["--json", "market", "status"]).json();
    assert_eq!(status["online"], true, "{status}");
    assert_eq!(status["marketplace"], market.did.as_str());
    assert_eq!(status["name"], "Ana Lima");
    assert_eq!(status["level"], "self-asserted");
    assert_eq!(status["credential"]["valid"], true, "{status}");
    assert_eq!(status["session"]["valid"], true, "{status}");

    // The credential is on the shelf `hallmark credential list` reads.
    let kept = studio.run(&["credential", "list"]).ok();
    assert!(
        kept.contains(&format!("Ana Lima from {}", market.did)),
        "{kept}"
    );

    let token = studio.run(&["market", "token", &market.url]).ok();
    assert_eq!(
        token.lines().count(),
        1,
        "only the token on stdout: {token:?}"
    );
    let token = token.trim().to_owned();
    assert_eq!(
        studio.run(&["market", "token"]).ok().trim(),
        token,
        "an unexpired stored token is reused"
    );
    let me = curl_with_token(&format!("{}/v1/creators/me", market.url), &token);
    assert!(
        me.status.success(),
        "{}",
        String::from_utf8_lossy(&me.stderr)
    );
    let me: serde_json::Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(me["did"], studio.did.as_str());
    assert_eq!(me["name"], "Ana Lima");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let sessions: Vec<_> = std::fs::read_dir(studio.data().join("marketplaces"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".session.json"))
            .collect();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        let mode = std::fs::metadata(&sessions[0])
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the user's alone");
    }

    market.stop();
    let offline = studio.run(&["market", "status"]);
    let text = offline.ok();
    assert!(text.contains("offline"), "{text}");
    assert!(text.contains("is hallmark-market running at"), "{text}");
    assert!(text.contains("Ana Lima"), "{text}");
    assert!(text.contains(&market.did), "{text}");
    assert!(text.contains("self-asserted"), "{text}");
    let offline = studio.run(&["--json", "market", "status"]).json();
    assert_eq!(offline["online"], false, "{offline}");
    assert_eq!(offline["credential"]["valid"], true, "{offline}");
}

#[test]
fn joining_again_registers_the_new_name() {
    let studio = Studio::new("rejoin", "Ana");
    let server_data = tempfile::tempdir().unwrap();
    let market = Market::start(&server_data.path().join("market"), "127.0.0.1:0");

    studio
        .run(&["market", "join", &market.url, "--name", "Ana"])
        .ok();
    let again = studio
        .run(&["market", "join", &market.url, "--name", "Ana Lima"])
        .ok();
    assert!(again.contains("as Ana Lima"), "{again}");

    let status = studio.run(&["--json", "market", "status"]).json();
    assert_eq!(status["name"], "Ana Lima", "{status}");
    assert_eq!(status["credential"]["valid"], true, "{status}");
    let token = studio.run(&["market", "token"]).ok();
    let me = curl_with_token(&format!("{}/v1/creators/me", market.url), token.trim());
    let me: serde_json::Value = serde_json::from_slice(&me.stdout).unwrap();
    assert_eq!(me["name"], "Ana Lima");
}

#[test]
fn a_marketplace_whose_key_changed_is_refused_by_status_and_token() {
    let studio = Studio::new("key-changed", "Ana");
    let server_data = tempfile::tempdir().unwrap();
    let mut market = Market::start(&server_data.path().join("first"), "127.0.0.1:0");
    studio
        .run(&["market", "join", &market.url, "--name", "Ana"])
        .ok();
    studio.run(&["market", "token"]).ok();

    // Another marketplace (a fresh key) at the same address.
    market.stop();
    let other = Market::start(&server_data.path().join("second"), &market.addr);
    assert_eq!(other.url, market.url);
    assert_ne!(other.did, market.did);

    for command in ["status", "token"] {
        let refused = studio.run(&["market", command]);
        assert_eq!(refused.code(), Some(3), "{command}: {}", refused.stderr());
        let message = refused.stderr();
        assert!(message.contains("identity changed"), "{command}: {message}");
        assert!(message.contains(&market.did), "{command}: {message}");
        assert!(message.contains(&other.did), "{command}: {message}");
        assert!(
            refused.stdout().is_empty(),
            "{command}: nothing is printed for a marketplace that is not the one joined: {}",
            refused.stdout()
        );
    }
}

#[test]
fn an_unreachable_marketplace_is_a_failure_that_names_it() {
    let studio = Studio::new("unreachable", "Ana");
    let url = closed_port_url();
    let run = studio.run(&["market", "join", &url, "--name", "Ana"]);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    let message = run.stderr();
    assert!(message.contains("cannot reach"), "{message}");
    assert!(
        message.contains(&format!("is hallmark-market running at {url}?")),
        "{message}"
    );
    assert!(
        !studio.data().join("marketplaces").exists(),
        "nothing is recorded for a marketplace never reached"
    );
}

#[test]
fn a_bad_address_or_an_unknown_marketplace_is_bad_input() {
    let studio = Studio::new("bad-url", "Ana");
    for url in [
        "market.example",
        "ftp://market.example",
        "http://127.0.0.1:8787/v1",
    ] {
        let run = studio.run(&["market", "join", url, "--name", "Ana"]);
        assert_eq!(run.code(), Some(2), "{url}: {}", run.stderr());
        let message = run.stderr();
        assert!(message.contains(&format!("{url:?}")), "{message}");
        assert!(message.contains("https://market.example"), "{message}");
    }
    let none = studio.run(&["market", "status"]);
    assert_eq!(none.code(), Some(2), "{}", none.stderr());
    assert!(
        none.stderr()
            .contains("hallmark market join URL --name NAME"),
        "{}",
        none.stderr()
    );
}
