//! The reference marketplace: an HTTP service a creator's studio publishes to and earns from.
//!
//! It exists so that Hallmark's whole loop (seal, sign, publish, earn) runs on one machine with no
//! account anywhere. Today it answers health checks; the publishing and earnings issues add
//! dataset upload, creator credentials, access receipts and payout statements here.

use axum::{Json, Router, routing::get};

/// What `GET /v1/health` answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Health {
    /// Always `"ok"` when the server answers.
    pub status: String,
    /// The server's name, so a client can tell it reached a Hallmark marketplace.
    pub service: String,
    /// The server's version.
    pub version: String,
}

/// The marketplace's HTTP routes.
pub fn router() -> Router {
    Router::new().route("/v1/health", get(health))
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        service: "hallmark-market".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Serves the marketplace on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router())
        .with_graceful_shutdown(shutdown)
        .await
}
