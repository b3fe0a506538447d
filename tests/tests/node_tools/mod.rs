//! What the JavaScript tests need from outside Cargo (Node.js; for the browser test also
//! Debian's Chromium and `playwright-core` from `tests/browser/package-lock.json`), and running
//! them with a deadline. A missing tool fails the test under `CI=true` (`.ci/run` installs
//! them all) and skips it, loudly, elsewhere: the same policy as `server/tests/prometheus.rs`.

#![allow(dead_code)] // each test target uses a part of it

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Ok(false) after a loud skip message, or an error under `CI=true`.
pub fn missing(message: &str) -> anyhow::Result<bool> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        bail!("{message}");
    }
    // Straight to stderr: the test harness captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED: {message}\n");
    Ok(false)
}

/// True when `program --version` runs and succeeds.
pub fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `node` can run (see the module docs for what happens when it cannot).
pub fn node_present() -> anyhow::Result<bool> {
    if runs("node") {
        return Ok(true);
    }
    missing("node is not on the PATH: install Node.js 20 or later (Debian: `nodejs`; .ci/run does)")
}

/// The `node` arguments that give scripts a global `WebSocket` (Node 22 has one; Node 20 needs
/// `--experimental-websocket`), or `Ok(None)` after a loud skip (an error under `CI=true`) when
/// this Node.js has none.
pub fn node_websocket_args() -> anyhow::Result<Option<Vec<&'static str>>> {
    let probe = "process.exit(typeof WebSocket === 'function' ? 0 : 1)";
    for args in [&[][..], &["--experimental-websocket"][..]] {
        let ok = Command::new("node")
            .args(args)
            .args(["-e", probe])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(Some(args.to_vec()));
        }
    }
    missing("this Node.js has no WebSocket client: install Node.js 22, or 20.10 or later")
        .map(|_| None)
}

/// The Chromium binary the browser test drives: `$TICKSTREAM_CHROMIUM` or Debian's.
pub fn chromium() -> PathBuf {
    std::env::var_os("TICKSTREAM_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Whether the browser test can run: Node.js, Chromium, and `playwright-core` installed in
/// `tests/browser/node_modules` (outside CI this runs `npm ci` there when it is missing).
pub fn browser_ready() -> anyhow::Result<bool> {
    if !node_present()? {
        return Ok(false);
    }
    let chromium = chromium();
    if !chromium.exists() {
        return missing(&format!(
            "{} not found: install Debian's `chromium` package (.ci/run does), or point \
             TICKSTREAM_CHROMIUM at a Chromium",
            chromium.display()
        ));
    }
    node_module_ready("playwright-core")
}

/// Whether `package` (one of `tests/browser/package.json`'s) is installed in
/// `tests/browser/node_modules`; outside CI this runs `npm ci` there when it is missing.
pub fn node_module_ready(package: &str) -> anyhow::Result<bool> {
    let dir = repo().join("tests/browser");
    let installed = |dir: &Path| {
        dir.join("node_modules")
            .join(package)
            .join("package.json")
            .exists()
    };
    if installed(&dir) {
        return Ok(true);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        bail!(
            "{package} is missing from tests/browser/node_modules: run `npm ci` in tests/browser \
             (.ci/run does)"
        );
    }
    if !runs("npm") {
        return missing("npm is not on the PATH, and tests/browser needs `npm ci`");
    }
    let _ = writeln!(
        std::io::stderr(),
        "installing {package}: npm ci in {}",
        dir.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .status()
        .context("cannot run npm")?;
    if !status.success() || !installed(&dir) {
        return missing(&format!("`npm ci` in tests/browser failed ({status})"));
    }
    Ok(true)
}

/// Runs `cmd` with its output passed through; kills it when it outlives `deadline`.
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> anyhow::Result<ExitStatus> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {deadline:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
