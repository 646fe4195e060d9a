//! The Earnings screen against a real marketplace: a creator publishes with the CLI (sharing the
//! app's data folder and keyring), the simulator buys, the app's Refresh fetches and verifies, and
//! the totals on screen equal the simulator's own tally; a stopped marketplace shows the stored
//! earnings marked offline.

use std::process::Command;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use hallmark_tests::App;
use hallmark_tests::market::{Market, Studio, binary, path, seal_and_sign};
use rust_decimal::Decimal;

#[tokio::test]
async fn the_earnings_screen_shows_what_the_simulator_paid_verified() {
    let app = App::launch().await.unwrap();
    let studio = Studio::sharing(app.data_dir(), &app.keyring_service, None, "Ana");
    let server = tempfile::tempdir().unwrap();
    let mut market = Market::start_with(
        &server.path().join("market"),
        "127.0.0.1:0",
        &["--open-buyer-signup", "--statement-period", "2s"],
    );
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    for i in 0..6 {
        let bytes: Vec<u8> = (0..30_000u32).map(|b| (b * 7 + i) as u8).collect();
        std::fs::write(src.path().join(format!("take-{i}.bin")), bytes).unwrap();
    }
    seal_and_sign(&studio, src.path(), out.path(), "64KiB");
    let out_path = path(out.path());
    studio
        .run(&["market", "join", &market.url, "--name", "Ana Lima"])
        .ok();
    studio
        .run(&[
            "publish",
            &out_path,
            "--price",
            "0.0007",
            "--currency",
            "EUR",
        ])
        .ok();
    let simulated = Command::new(binary(
        "hallmark-market",
        "HALLMARK_MARKET",
        "hallmark-market",
    ))
    .args([
        "simulate",
        "--market",
        &market.url,
        "--buyers",
        "2",
        "--accesses",
        "20",
    ])
    .args(["--seed", "5", "--json"])
    .output()
    .unwrap();
    assert!(simulated.status.success(), "{simulated:?}");
    let tally: serde_json::Value = serde_json::from_slice(&simulated.stdout).unwrap();
    let expected = Decimal::from_str(
        tally["creators"][&studio.did]["EUR"]["creatorShare"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(expected > Decimal::ZERO, "{tally}");

    app.click("[data-testid=nav-earnings]").await.unwrap();
    app.wait_attr("[data-testid=earnings]", "data-status", |s| s == "empty")
        .await
        .unwrap();
    // Statements close every 2 s (5 s grace): refresh until every receipt is in one.
    let start = Instant::now();
    loop {
        app.click("[data-testid=earnings-refresh]").await.unwrap();
        app.wait_text("[data-testid=earnings-refresh]", |t| t == "Refresh")
            .await
            .unwrap();
        if let Ok(total) = app
            .client
            .find(fantoccini::Locator::Css(
                "[data-testid=earnings-total][data-currency=EUR]",
            ))
            .await
        {
            let statemented = total.attr("data-statemented").await.unwrap().unwrap();
            let estimated = total.attr("data-estimated").await.unwrap().unwrap();
            if Decimal::from_str(&estimated).unwrap().is_zero()
                && Decimal::from_str(&statemented).unwrap() == expected
            {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the screen did not show {expected} EUR in statements within a minute"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    // Every statement passed every check, and the log only grew.
    let statements = app
        .client
        .find_all(fantoccini::Locator::Css("[data-testid=earnings-statement]"))
        .await
        .unwrap();
    assert!(!statements.is_empty());
    for statement in &statements {
        assert_eq!(
            statement.attr("data-findings").await.unwrap().as_deref(),
            Some("0")
        );
    }
    let bad = app
        .client
        .find_all(fantoccini::Locator::Css(
            "[data-testid^=badge-][data-ok=false]",
        ))
        .await
        .unwrap();
    assert!(bad.is_empty(), "{} checks failed on screen", bad.len());
    assert_eq!(
        app.find("[data-testid=earnings-log]")
            .await
            .unwrap()
            .attr("data-consistent")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    // The per-dataset table adds up to the same money.
    let rows = app
        .client
        .find_all(fantoccini::Locator::Css(
            "[data-testid=earnings-datasets] [data-testid=earnings-row]",
        ))
        .await
        .unwrap();
    let mut sum = Decimal::ZERO;
    for row in &rows {
        sum += Decimal::from_str(&row.attr("data-share").await.unwrap().unwrap()).unwrap();
    }
    assert_eq!(sum, expected);
    app.find("[data-testid=earnings-chart]").await.unwrap();
    app.screenshot("earnings-verified").await.unwrap();
    app.scroll_to("[data-testid=earnings-log]").await.unwrap();
    app.screenshot("earnings-checks").await.unwrap();

    // The marketplace goes away: the stored earnings stay on screen, marked offline.
    market.stop();
    app.click("[data-testid=earnings-refresh]").await.unwrap();
    app.wait_attr("[data-testid=earnings]", "data-offline", |v| v == "true")
        .await
        .unwrap();
    let shown = app
        .find("[data-testid=earnings-total][data-currency=EUR]")
        .await
        .unwrap()
        .attr("data-statemented")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Decimal::from_str(&shown).unwrap(), expected);
    // Both simulated buyers bought, each counted once however many accesses they made.
    let buyers = app
        .find("[data-testid=earnings-total][data-currency=EUR]")
        .await
        .unwrap()
        .attr("data-buyers")
        .await
        .unwrap();
    assert_eq!(buyers.as_deref(), Some("2"));

    // Another marketplace (another key) answers at the same address: Settings says so loudly,
    // and a refresh sends it nothing.
    let _impostor = Market::start(&server.path().join("impostor"), &market.addr);
    app.click("[data-testid=earnings-refresh]").await.unwrap();
    let refused = app
        .wait_attr("[data-testid=earnings-error]", "data-code", |c| {
            !c.is_empty()
        })
        .await
        .unwrap();
    assert_eq!(refused, "marketplace_changed");
    app.click("[data-testid=nav-settings]").await.unwrap();
    app.click("[data-testid=check-marketplace]").await.unwrap();
    app.wait_attr("[data-testid=settings-marketplace]", "data-check", |c| {
        c == "changed"
    })
    .await
    .unwrap();
    let warning = app.text("[data-testid=marketplace-changed]").await.unwrap();
    assert!(warning.contains("Hallmark sends it nothing"), "{warning}");
    app.scroll_to("[data-testid=settings-marketplaces]")
        .await
        .unwrap();
    app.screenshot("settings-marketplace-changed")
        .await
        .unwrap();
    app.close().await.unwrap();
}
