//! The Grafana dashboard and the alert rules in `assets/` speak about the metrics the server
//! exports, and the dashboard has the panels operators were promised. (`tests/prometheus.rs`
//! runs every panel's query against a real Prometheus and loads the rules into it.)

use std::path::PathBuf;

use tickstream_server::metrics as m;

fn asset(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../assets")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `tickstream_…` name in `text`, without the histogram series suffixes.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("tickstream_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.push(base.to_owned());
        rest = &tail[end..];
    }
    names
}

/// Every query of every panel: `(panel title, expression)`.
fn panel_queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    let panels = dashboard["panels"]
        .as_array()
        .expect("the dashboard has panels");
    panels
        .iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |t| Some((title.clone(), t["expr"].as_str()?.to_owned())))
        })
        .collect()
}

#[test]
fn the_dashboard_queries_only_exported_metrics() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&asset("grafana-dashboard.json")).expect("the dashboard is JSON");
    let queries = panel_queries(&dashboard);
    assert!(
        queries.len() > 20,
        "the dashboard has its queries ({})",
        queries.len()
    );
    for (title, expr) in &queries {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "panel {title:?} queries a Tickstream metric: {expr}"
        );
        for name in names {
            assert!(
                m::ALL.contains(&name.as_str()),
                "panel {title:?} queries {name}, which the server does not export: {expr}"
            );
        }
    }
}

#[test]
fn the_dashboard_has_the_promised_panels() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&asset("grafana-dashboard.json")).expect("the dashboard is JSON");
    let queries = panel_queries(&dashboard);
    let has = |title: &str, metric: &str| {
        queries
            .iter()
            .any(|(t, e)| t == title && e.contains(metric))
    };
    for (title, metric) in [
        ("Tick duration p99 vs budget", m::TICK_DURATION),
        ("Tick duration p99 vs budget", m::TICK_BUDGET),
        ("Tick overruns per second", m::TICK_OVERRUNS),
        ("Players", m::CONNECTIONS),
        ("Rooms", m::ROOMS),
        ("Bytes out per player", m::BYTES_SENT),
        ("Slow-client drops", m::DISCONNECTS),
        ("Updates merged for slow clients", m::UPDATES_MERGED),
        ("Disconnects by close code", m::DISCONNECTS),
    ] {
        assert!(has(title, metric), "a panel {title:?} draws {metric}");
    }
    let uses = |metric: &str| queries.iter().any(|(_, e)| e.contains(metric));
    for name in m::ALL {
        assert!(uses(name), "some panel draws {name}");
    }
}

#[test]
fn the_alert_rules_query_only_exported_metrics() {
    let rules = asset("prometheus-alerts.yml");
    let names = metric_names(&rules);
    assert!(!names.is_empty(), "the rules query Tickstream metrics");
    for name in names {
        assert!(
            m::ALL.contains(&name.as_str()),
            "the alert rules query {name}, which the server does not export"
        );
    }
}
