//! The C# client (`clients/csharp/`) under Mono: `clients/csharp/test.sh` builds the library
//! with `mcs` (C# 7.2, warnings as errors, the base class library alone), its tests and the
//! console demo, starts real `tickstream-server` processes on free loopback ports and runs the
//! tests: the golden vectors (v2 to v6) decoded and re-encoded, 300 verified updates, wss with
//! the development certificate trusted, inputs acknowledged and predicted within one grid point,
//! coin events in order, resume after an abrupt drop without losing an event, a refused join
//! token surfaced as an error value with 1008, and spectators (v6): a live room watched with
//! every checksum verified while switching what it follows, 4006 for a missing room, a delayed
//! view and full seats (1013), and a recording played back to its 1000 (a Join there: 4007).
//!
//! Needs Mono (`mono` and `mcs`, Debian's `mono-devel`; `.ci/run` installs it); without it the
//! test fails under `CI=true` and is skipped, loudly, elsewhere, as `web.rs` treats Node.js.

mod node_tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use node_tools::{missing, repo, run_with_deadline, runs};

/// Building and running everything takes about half a minute; this only bounds a hang.
const RUN_DEADLINE: Duration = Duration::from_secs(600);

/// Whether `mono` and `mcs` can run (see the module docs for what happens when they cannot).
fn mono_present() -> anyhow::Result<bool> {
    if runs("mono") && runs("mcs") {
        return Ok(true);
    }
    missing("mono or mcs is not on the PATH: install Mono (Debian: `mono-devel`; .ci/run does)")
}

/// `target/<profile>/` of this build: the test binary lives in `target/<profile>/deps/`.
fn profile_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .nth(2)
        .map(PathBuf::from)
        .context("the test binary is in target/<profile>/deps")
}

/// The newest modification time of the files under `path` (recursively).
fn newest(path: &Path) -> std::io::Result<SystemTime> {
    let meta = std::fs::metadata(path)?;
    let mut time = meta.modified()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            time = time.max(newest(&entry?.path())?);
        }
    }
    Ok(time)
}

/// The `tickstream-server` binary of this build's profile. `cargo test --workspace` builds it
/// (the server package has integration tests); a run of this package alone
/// (`-p tickstream-tests`) does not, so when it is missing or older than the server's or the
/// protocol's sources it is built here first: a stale binary would test old code.
fn server_binary() -> anyhow::Result<PathBuf> {
    let profile = profile_dir()?;
    let binary = profile.join("tickstream-server");
    let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let mut sources = SystemTime::UNIX_EPOCH;
    for part in [
        "server/src",
        "server/Cargo.toml",
        "shared/src",
        "shared/Cargo.toml",
        "Cargo.lock",
    ] {
        sources = sources.max(newest(&repo().join(part))?);
    }
    if built.is_some_and(|b| b >= sources) {
        return Ok(binary);
    }
    let target = profile.parent().context("target/ above the profile")?;
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "-p",
            "tickstream-server",
            "--bin",
            "tickstream-server",
        ])
        .arg("--target-dir")
        .arg(target)
        .current_dir(repo());
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let status = run_with_deadline(cargo, RUN_DEADLINE)?;
    assert!(
        status.success(),
        "building tickstream-server failed ({status})"
    );
    Ok(binary)
}

#[test]
fn the_csharp_client_passes_its_tests_against_a_real_server() -> anyhow::Result<()> {
    if !mono_present()? {
        return Ok(());
    }
    let server = server_binary()?;
    let mut script = Command::new("bash");
    script
        .arg("clients/csharp/test.sh")
        .env("TICKSTREAM_SERVER", &server)
        .current_dir(repo());
    let status = run_with_deadline(script, RUN_DEADLINE)?;
    assert!(
        status.success(),
        "clients/csharp/test.sh failed ({status}); its report is above"
    );
    Ok(())
}
