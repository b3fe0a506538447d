//! An example game client: joins a room, walks in a circle, and draws what it sees (remote
//! entities interpolated, its own entity predicted) to a PNG every second.
//!
//! ```sh
//! cargo run -p tickstream-server &          # wss on 7443, self-signed
//! cargo run -p tickstream-client --example game -- wss://127.0.0.1:7443/ws lobby out/ 10
//! ```
//!
//! Arguments: URL (default `wss://127.0.0.1:7443/ws`, certificate not checked: a development
//! server), room (`lobby`), output folder (`.`), seconds to play (`10`). Pictures are
//! `view-1.png`, `view-2.png`, … in the folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tickstream_client::{
    ConnectOptions, Interpolator, Predictor, ServerClock, Session, SessionEvent, SessionOptions,
    Vec2,
};
use tickstream_shared::MoveRule;

/// The picture's side in pixels.
const SIZE: u32 = 320;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "wss://127.0.0.1:7443/ws".into());
    let room = args.next().unwrap_or_else(|| "lobby".into());
    let out = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let secs: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    // The pictures' folder is made if it is missing, as `out/` in the README is.
    std::fs::create_dir_all(&out)?;
    let written = play(&url, &room, &out, Duration::from_secs(secs)).await?;
    println!("wrote {written} pictures to {}", out.display());
    Ok(())
}

/// Plays for `duration` and writes a picture every second; returns how many it wrote.
pub async fn play(
    url: &str,
    room: &str,
    out: &Path,
    duration: Duration,
) -> Result<u32, Box<dyn std::error::Error>> {
    let opts = SessionOptions {
        connect: ConnectOptions {
            // A development server's self-signed certificate; pass `ca` for a real one.
            insecure: true,
            ..ConnectOptions::default()
        },
        ..SessionOptions::default()
    };
    let mut session = Session::join(url, room, opts).await?;
    let start = Instant::now();
    let secs = |t: Instant| t.duration_since(start).as_secs_f64();
    let (mut clock, mut interp, mut predictor, mut lead) = fresh(session.welcome());
    let mut next_picture = start + Duration::from_secs(1);
    let mut written = 0;
    let end = start + duration;
    while Instant::now() < end {
        let event = tokio::time::timeout_at(end.into(), session.next()).await;
        let Ok(event) = event else { break };
        let now = Instant::now();
        match event? {
            SessionEvent::Welcome(w) => (clock, interp, predictor, lead) = fresh(&w),
            SessionEvent::Update(u) => {
                clock.observe(u.tick.0, secs(now));
                interp.record(u.tick.0, session.replica());
                if let Some(me) = session.replica().get(session.welcome().entity) {
                    let server = Vec2::from_grid(me.x, me.y);
                    let feedback = predictor.reconcile(u.tick.0, u.ack_seq, server);
                    lead = (lead + f64::from(feedback) * 0.25).clamp(-4.0, 8.0);
                }
                // Walk in a circle, one turn every 4 s; the input only goes out when it changes.
                let angle = (secs(now) / 4.0 * std::f64::consts::TAU) as f32;
                let (dx, dy) = (
                    (angle.cos() * 8.0).round() / 8.0,
                    (angle.sin() * 8.0).round() / 8.0,
                );
                if let Some(seq) = session.set_input(dx, dy, 0) {
                    predictor.note_input(seq, dx, dy);
                }
                if let Some(arriving) = clock.tick_at(secs(now)) {
                    let rtt = session.rtt().unwrap_or_default();
                    let hz = session.welcome().tick_rate_hz;
                    let local =
                        tickstream_client::prediction::lead_tick(arriving, rtt, hz, lead, u.tick.0);
                    predictor.advance_to(local);
                }
            }
            SessionEvent::Event(e) => {
                let kinds = &session.welcome().event_kinds;
                let kind = kinds.get(usize::from(e.kind)).map_or("?", String::as_str);
                println!(
                    "event #{} {kind}: entity {} value {}",
                    e.seq, e.entity.0, e.value
                );
            }
            SessionEvent::Dropped { code, reason } => println!("dropped ({code:?}): {reason}"),
            SessionEvent::Moved { url } => println!("the room moved to {url}; resuming there"),
        }
        if now >= next_picture {
            next_picture += Duration::from_secs(1);
            // Remote entities at the clock's render tick: behind the arriving tick by a delay
            // that covers the measured jitter.
            let Some(render_tick) = clock.render_tick_at(secs(now)) else {
                continue;
            };
            interp.advance(render_tick, secs(now));
            written += 1;
            let picture = draw(&session, &interp, &predictor);
            write_png(&out.join(format!("view-{written}.png")), &picture)?;
            interp.prune(render_tick - 1.0);
        }
    }
    session.close().await;
    Ok(written)
}

/// The helpers for a new welcome: the view starts over.
fn fresh(w: &tickstream_shared::Welcome4) -> (ServerClock, Interpolator, Predictor, f64) {
    // The built-in games publish how players walk; a game of one's own that does not would
    // pass its step function to `Predictor::with_step` instead.
    let speed = match w.move_rule {
        MoveRule::Walk { speed } => speed,
        MoveRule::None => 5.0,
    };
    let predictor = Predictor::from_welcome(w).unwrap_or_else(Predictor::off);
    (
        ServerClock::new(w.tick_rate_hz),
        Interpolator::new(speed),
        predictor,
        0.0,
    )
}

/// RGB pixels: the arena dark, entities as dots (own entity red, players blue, the rest
/// grey-green), the view radius as a faint circle.
fn draw(session: &Session, interp: &Interpolator, predictor: &Predictor) -> Vec<u8> {
    let w = session.welcome();
    let mut px = vec![0u8; (SIZE * SIZE * 3) as usize];
    for p in px.chunks_exact_mut(3) {
        p.copy_from_slice(&[24, 26, 32]);
    }
    let scale = SIZE as f32 / w.world_width.max(w.world_height).max(1.0);
    let mut dot = |pos: Vec2, r: i32, rgb: [u8; 3]| {
        let (cx, cy) = ((pos.x * scale) as i32, (pos.y * scale) as i32);
        for y in cy - r..=cy + r {
            for x in cx - r..=cx + r {
                let inside = (x - cx).pow(2) + (y - cy).pow(2) <= r * r;
                if inside && (0..SIZE as i32).contains(&x) && (0..SIZE as i32).contains(&y) {
                    let i = ((y as u32 * SIZE + x as u32) * 3) as usize;
                    px[i..i + 3].copy_from_slice(&rgb);
                }
            }
        }
    };
    let player_kind = w.kinds.iter().position(|k| k == "player");
    for e in interp.drawn() {
        if e.id == w.entity {
            continue;
        }
        let (pos, kind) = (e.pos, e.kind);
        let rgb = if Some(usize::from(kind)) == player_kind {
            [80, 140, 255]
        } else {
            [120, 170, 120]
        };
        dot(pos, 2, rgb);
    }
    if let Some(me) = predictor.position() {
        dot(me, 4, [255, 80, 70]);
    }
    px
}

fn write_png(path: &Path, rgb: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, SIZE, SIZE);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(rgb)?;
    Ok(())
}
