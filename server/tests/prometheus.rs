//! A real Prometheus scrapes the real binary while bots play, and the series read back through
//! Prometheus' HTTP API move as they should: connections rise to the number of bots and fall
//! back to zero, bytes grow, ticks follow the tick rate. `promtool check metrics` accepts the
//! exposition; every query of the Grafana dashboard runs and finds data; the alert rules in
//! `assets/` load and evaluate without errors.
//!
//! Needs `prometheus` and `promtool` on the PATH (Debian's `prometheus` package; `.ci/run`
//! installs it). Without them the test fails under `CI=true` and is skipped, loudly, elsewhere.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use support::{STEP_TIMEOUT, ServerProcess, http_get};
use tickstream_bot::load::{LoadConfig, run};
use tickstream_server::metrics as m;

/// Bots in the run.
const BOTS: u32 = 20;

/// The measured part of the bots' run.
const RUN: Duration = Duration::from_secs(8);

/// The server's default tick rate.
const TICK_HZ: f64 = 30.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_reads_the_series_of_a_bot_run() -> anyhow::Result<()> {
    if !tools_present()? {
        return Ok(());
    }
    // The room is disposed soon after the bots leave, so that the room gauge falls back too.
    let config = std::env::temp_dir().join(format!("tickstream-prom-{}.toml", std::process::id()));
    std::fs::write(&config, "[rooms]\nempty_timeout_ms = 200\n")?;
    let server = ServerProcess::start(&["--config", &config.to_string_lossy()])?;
    let prom = Prometheus::start(server.metrics)?;
    prom.wait_until("Prometheus scraped the server", || async {
        Ok(prom.value("up{job=\"tickstream\"}", None).await? == Some(1.0))
    })
    .await?;

    // The run: 20 bots in one room for about 8 s.
    let started = now();
    let cfg = LoadConfig {
        url: server.ws_url(),
        bots: BOTS,
        duration: RUN,
        room: "prom".into(),
        ramp: Duration::from_millis(500),
        ..LoadConfig::default()
    };
    let wall = Instant::now();
    let bots = tokio::spawn(run(cfg, |_| {}));
    tokio::time::sleep(RUN / 2).await;
    let mid = now();
    let (status, exposition) = http_get(server.metrics, "/metrics").await?;
    assert_eq!(status, 200, "/metrics answers");
    promtool_check(&exposition)?;
    let summary = tokio::time::timeout(RUN + STEP_TIMEOUT, bots).await??;
    let wall = wall.elapsed().as_secs_f64();
    assert_eq!(
        summary.bots_connected, BOTS,
        "every bot connected: {summary}"
    );
    assert_eq!(summary.errors, 0, "no bot error: {summary}");

    // Wait for a scrape that shows everyone gone and the room stopped.
    prom.wait_until("the connections fell back to 0", || async {
        Ok(
            prom.value("tickstream_connections", None).await? == Some(0.0)
                && prom.value("tickstream_rooms", None).await? == Some(0.0),
        )
    })
    .await?;
    let end = now();
    let window = format!("{}s", (end - started).ceil() as u64 + 5);

    let peak = prom
        .value(
            &format!("max_over_time(tickstream_connections[{window}])"),
            Some(end),
        )
        .await?;
    assert_eq!(peak, Some(f64::from(BOTS)), "connections rose to {BOTS}");

    let sent_mid = prom
        .value("tickstream_sent_bytes_total", Some(mid))
        .await?
        .unwrap_or(0.0);
    let sent_end = prom
        .value("tickstream_sent_bytes_total", Some(end))
        .await?
        .unwrap_or(0.0);
    assert!(sent_mid > 0.0, "bytes were sent by mid-run: {sent_mid}");
    assert!(
        sent_end > sent_mid,
        "bytes sent kept growing: {sent_mid} then {sent_end}"
    );
    assert!(
        sent_end >= summary.bytes_received as f64,
        "the server sent at least what the bots counted: {sent_end} < {}",
        summary.bytes_received
    );
    let received = prom
        .value("tickstream_received_bytes_total", Some(end))
        .await?
        .unwrap_or(0.0);
    assert!(received > 0.0, "the bots' inputs were counted: {received}");

    // One room ticked for about as long as the bots were connected.
    let ticks = prom
        .value("tickstream_ticks_total", Some(end))
        .await?
        .unwrap_or(0.0);
    let expected = TICK_HZ * wall;
    assert!(
        ticks > 0.7 * expected && ticks < 1.1 * expected + TICK_HZ,
        "ticks ≈ {TICK_HZ} Hz × {wall:.1} s = {expected:.0}, read {ticks}"
    );
    let rate = prom
        .value("rate(tickstream_ticks_total[4s])", Some(mid))
        .await?
        .unwrap_or(0.0);
    assert!(
        (0.75 * TICK_HZ..=1.25 * TICK_HZ).contains(&rate),
        "the tick rate mid-run is about {TICK_HZ} Hz: {rate:.1}"
    );
    let normal_closes = prom
        .value("tickstream_disconnects_total{code=\"1000\"}", Some(end))
        .await?;
    assert_eq!(
        normal_closes,
        Some(f64::from(BOTS)),
        "every bot's disconnect is counted under code 1000"
    );

    // Every panel of the dashboard, with Grafana's variables filled in, finds data mid-run
    // (panels that keep only non-zero series may rightly be empty).
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        assets().join("grafana-dashboard.json"),
    )?)?;
    let mut panels = 0;
    for panel in dashboard["panels"].as_array().context("panels")? {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let Some(expr) = target["expr"].as_str() else {
                continue;
            };
            let query = expr
                .replace("$__rate_interval", "4s")
                .replace("$job", ".+")
                .replace("$instance", ".+");
            let result = prom.query(&query, Some(mid)).await?;
            let title = panel["title"].as_str().unwrap_or_default();
            assert!(
                !result.is_empty() || expr.ends_with("> 0"),
                "panel {title:?} finds data mid-run: {query}"
            );
            panels += 1;
        }
    }

    // The alert rules loaded, and every one of them evaluates cleanly.
    prom.wait_until("every alert rule evaluated without error", || async {
        let (status, body) = http_get(prom.addr, "/api/v1/rules").await?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        let rules: Vec<&serde_json::Value> = v["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        Ok(status == 200 && rules.len() >= 5 && rules.iter().all(|r| r["health"] == "ok"))
    })
    .await?;

    // Every metric the server names is a series Prometheus holds.
    for name in m::ALL {
        let q = format!("count({{__name__=~\"{name}|{name}_bucket\"}})");
        let n = prom.value(&q, Some(end)).await?.unwrap_or(0.0);
        assert!(n >= 1.0, "Prometheus holds {name}");
    }
    eprintln!(
        "prometheus read back: peak connections {peak:?}, sent bytes {sent_mid} (mid) → \
         {sent_end} (end), received bytes {received}, ticks {ticks} in {wall:.1} s \
         (rate {rate:.1}/s mid-run), normal closes {normal_closes:?}, {panels} dashboard \
         queries with data"
    );
    Ok(())
}

#[test]
fn promtool_accepts_the_alert_rules() -> anyhow::Result<()> {
    if !tools_present()? {
        return Ok(());
    }
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(assets().join("prometheus-alerts.yml"))
        .output()
        .context("cannot run promtool")?;
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The repository's `assets/` folder.
fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

/// Seconds since the Unix epoch, as Prometheus' API takes them.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Whether `prometheus` and `promtool` can run; an error when they cannot under `CI=true`.
fn tools_present() -> anyhow::Result<bool> {
    let runs = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs("prometheus") && runs("promtool") {
        return Ok(true);
    }
    let message = "prometheus and promtool are not on the PATH: install Debian's `prometheus` \
                   package (.ci/run does)";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        bail!("{message}");
    }
    // Straight to stderr: the test harness captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED: {message}\n");
    Ok(false)
}

/// Runs `promtool check metrics` on an exposition; an error with its complaints if it fails.
fn promtool_check(exposition: &str) -> anyhow::Result<()> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run promtool")?;
    child
        .stdin
        .take()
        .context("stdin is piped")?
        .write_all(exposition.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "promtool check metrics failed ({}):\n{}{}\nexposition:\n{exposition}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A Prometheus server scraping one target every second, with its data in a temporary
/// directory; killed and cleaned up on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "tickstream-prometheus-{}-{}",
            std::process::id(),
            now().to_bits()
        ));
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  \
                 evaluation_interval: 1s\n\
                 rule_files: ['{rules}']\n\
                 scrape_configs:\n  - job_name: tickstream\n    static_configs:\n      \
                 - targets: ['{target}']\n",
                rules = assets().join("prometheus-alerts.yml").display()
            ),
        )?;
        // A free port, as near to race-free as a child process allows.
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::fs::File::create(dir.join("prometheus.log"))?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start prometheus")?;
        let prom = Self { child, addr, dir };
        Ok(prom)
    }

    /// Polls `check` every 200 ms until it holds, within [`STEP_TIMEOUT`] (Prometheus needs a
    /// few seconds to start and a scrape interval to see a change).
    async fn wait_until<F, Fut>(&self, what: &str, check: F) -> anyhow::Result<()>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<bool>>,
    {
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut last = None;
        loop {
            match check().await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last = Some(e),
            }
            if Instant::now() >= deadline {
                bail!(
                    "waited in vain for: {what} (last error: {last:?}); prometheus log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The series of an instant query at `time` (now if `None`); an error if the query does
    /// not parse or run.
    async fn query(
        &self,
        query: &str,
        time: Option<f64>,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut path = format!("/api/v1/query?query={}", encode(query));
        if let Some(t) = time {
            path.push_str(&format!("&time={t:.3}"));
        }
        let (status, body) = http_get(self.addr, &path).await?;
        if status != 200 {
            bail!("query {query:?}: HTTP {status}: {body}");
        }
        let mut v: serde_json::Value = serde_json::from_str(&body)?;
        match v["data"]["result"].take() {
            serde_json::Value::Array(series) => Ok(series),
            _ => bail!("query {query:?}: no result in {body}"),
        }
    }

    /// The value of an instant query that yields at most one series; `None` if it yields none.
    async fn value(&self, query: &str, time: Option<f64>) -> anyhow::Result<Option<f64>> {
        match self.query(query, time).await?.as_slice() {
            [] => Ok(None),
            [one] => {
                let text = one["value"][1]
                    .as_str()
                    .with_context(|| format!("query {query:?}: no value in {one}"))?;
                Ok(Some(text.parse()?))
            }
            several => bail!("query {query:?} yields {} series", several.len()),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Percent-encodes a query string value (everything but RFC 3986's unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
