//! `tickstream-floor`: the I/O floor `tickstream-bench` measures beside Tickstream (see
//! `tickstream_bot::floor`). Sends every client a binary frame of `--frame-bytes` bytes
//! `--hz` times a second, and discards what the clients send.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// The floor server: fan-out of a fixed frame, nothing computed.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Where to listen (plain ws, or wss with `--tls`).
    #[arg(long, default_value = "127.0.0.1:7450")]
    listen: SocketAddr,
    /// The payload size of every frame.
    #[arg(long, default_value_t = 574)]
    frame_bytes: usize,
    /// Frames per second to every client.
    #[arg(long, default_value_t = 30.0)]
    hz: f64,
    /// wss with a fresh self-signed certificate.
    #[arg(long)]
    tls: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.hz > 0.0, "--hz must be above zero");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let tls = if args.tls {
            Some(tickstream_bot::floor::tls_acceptor()?)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let tick = Duration::from_secs_f64(1.0 / args.hz);
        tickstream_bot::floor::serve(listener, args.frame_bytes, tick, tls).await;
        Ok(())
    })
}
