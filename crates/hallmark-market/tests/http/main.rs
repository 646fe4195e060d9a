//! Talks to a real marketplace server on a loopback port over HTTP.

// A test binary: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use hallmark_market::Health;

#[tokio::test]
async fn health_answers_over_real_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let dir = tempfile::tempdir().unwrap();
    let config = hallmark_market::Config {
        data_dir: dir.path().to_owned(),
        database_url: None,
        store_url: None,
        public_url: format!("http://{addr}"),
        creator_share: "0.8".parse().unwrap(),
        limits: hallmark_market::Limits::default(),
    };
    let state =
        hallmark_market::AppState::open(config, std::sync::Arc::new(hallmark_market::SystemClock))
            .await
            .unwrap();
    let server = tokio::spawn(hallmark_market::serve(state, listener, async {
        let _ = stopped.await;
    }));

    let response = reqwest::get(format!("http://{addr}/v1/health"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let health: Health = response.json().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.service, "hallmark-market");

    let missing = reqwest::get(format!("http://{addr}/v1/nothing"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
