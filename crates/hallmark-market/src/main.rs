//! The `hallmark-market` command: runs the reference marketplace on a local address.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;

/// Run the reference Hallmark marketplace locally.
#[derive(Debug, Parser)]
#[command(name = "hallmark-market", version, about)]
struct Args {
    /// Address to listen on. Port 0 picks a free port; the chosen address is printed.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; stop whatever uses that port or pass --listen 127.0.0.1:0",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;
    println!("hallmark-market listening on http://{addr}");
    hallmark_market::serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
