//! Publishing from the app to a real marketplace: first run (an identity), seal and sign a folder,
//! join the marketplace in one step, publish with a speed limit, pause mid-upload, quit, start
//! again and resume the unfinished upload it offers; the version is listed with every shard stored.

use hallmark_tests::market::Market;
use hallmark_tests::{App, SOME_TERMS};

#[tokio::test]
async fn join_publish_pause_and_resume_from_the_app() {
    let server = tempfile::tempdir().unwrap();
    let market_data = server.path().join("market");
    let market = Market::start(&market_data, "127.0.0.1:0");
    let folder = tempfile::Builder::new().prefix("takes-").tempdir().unwrap();
    // 6 MB of incompressible takes: 4 MiB shards, several seconds at 1 MB/s.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..12 {
        let bytes: Vec<u8> = (0..500_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(folder.path().join(format!("take-{i:02}.wav")), bytes).unwrap();
    }
    let root = folder.path().canonicalize().unwrap();

    let app = App::launch_with_identity("Ana Example").await.unwrap();
    app.open_folder(&root).await.unwrap();
    app.fill("[data-testid=seal-creator]", "Ana Example")
        .await
        .unwrap();
    app.fill("[data-testid=seal-name]", "Studio takes, autumn")
        .await
        .unwrap();
    app.choose_terms(&SOME_TERMS).await.unwrap();
    app.client
        .find(fantoccini::Locator::Css("[data-testid=seal-shard-size]"))
        .await
        .unwrap()
        .select_by_label("4 MiB micro-shards (edge caching, per-access metering)")
        .await
        .unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    let shards: usize = app
        .wait_attr("[data-testid=sealed-dataset]", "data-shards", |v| {
            !v.is_empty()
        })
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(shards >= 2, "{shards} shards");
    app.click("[data-testid=sign-dataset]").await.unwrap();
    app.wait_attr("[data-testid=signature]", "data-state", |s| s == "signed")
        .await
        .unwrap();

    app.click("[data-testid=nav-publish]").await.unwrap();
    app.wait_attr("[data-testid=publish-market]", "data-joined", |j| {
        j == "false"
    })
    .await
    .unwrap();
    app.fill("[data-testid=join-url]", &market.url)
        .await
        .unwrap();
    app.click("[data-testid=join-market]").await.unwrap();
    app.wait_attr("[data-testid=publish-market]", "data-joined", |j| {
        j == "true"
    })
    .await
    .unwrap();
    let origin = app.text("[data-testid=publish-origin]").await.unwrap();
    assert_eq!(origin, market.url);
    // The dataset by the name it was sealed with, not its output folder's.
    let name = app
        .text("[data-testid=publish-dataset-name]")
        .await
        .unwrap();
    assert_eq!(name, "Studio takes, autumn");

    app.fill("[data-testid=publish-price]", "0.0005")
        .await
        .unwrap();
    app.fill("[data-testid=publish-currency]", "EUR")
        .await
        .unwrap();
    app.client
        .find(fantoccini::Locator::Css("[data-testid=publish-limit]"))
        .await
        .unwrap()
        .select_by_label("1 MB/s")
        .await
        .unwrap();
    app.click("[data-testid=publish-start]").await.unwrap();
    app.wait_attr("[data-testid=publish-progress]", "data-bytes-done", |b| {
        b.parse::<u64>().is_ok_and(|b| b > 0)
    })
    .await
    .unwrap();
    app.screenshot("publish-uploading").await.unwrap();
    app.click("[data-testid=publish-pause]").await.unwrap();
    app.wait_attr("[data-testid=publish-dataset]", "data-status", |s| {
        s == "paused"
    })
    .await
    .unwrap();
    let resume = app.text("[data-testid=publish-start]").await.unwrap();
    assert_eq!(resume, "Resume");

    // Quit and come back: the unfinished upload is offered, and resumes with its terms.
    let app = app.restart().await.unwrap();
    app.click("[data-testid=nav-publish]").await.unwrap();
    app.find("[data-testid=interrupted-publish]").await.unwrap();
    app.screenshot("publish-interrupted").await.unwrap();
    app.click("[data-testid=resume-interrupted]").await.unwrap();
    let version = app
        .wait_attr("[data-testid=publish-result]", "data-version", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    let catalog = app.text("[data-testid=publish-catalog]").await.unwrap();
    assert_eq!(catalog, format!("{}/v1/catalog/{version}", market.url));
    // The catalog lists it at the price set, and every shard is stored.
    let listed = std::process::Command::new("curl")
        .args(["-sS", "-f", &catalog])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["price"], "0.0005", "{listed}");
    let stored = std::fs::read_dir(market_data.join("blobs/shards"))
        .unwrap()
        .count();
    assert_eq!(stored, shards);
    app.screenshot("publish-published").await.unwrap();
    app.close().await.unwrap();
}
