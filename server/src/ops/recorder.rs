//! The process-wide Prometheus recorder.
//!
//! The `metrics` facade has one global recorder per process, so installing it is idempotent:
//! the first [`install_recorder`] builds and installs it, every later call (another server in
//! the same test process) gets a handle to the same one. Every server in a process therefore
//! reports into the same series.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::metrics as m;

/// How often histogram samples are folded into their buckets when nobody scrapes: without it,
/// samples would pile up between scrapes (rendering does the same work).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the global `metrics` recorder (once per process) and
/// returns a handle that renders the exposition.
///
/// If another recorder was installed first, a warning is logged and the handle renders an
/// exposition without the server's metrics.
pub fn install_recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = builder().build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                tracing::warn!(error = %e, "another metrics recorder is installed; /metrics will not show the server's metrics");
            }
            m::describe();
            m::register();
            // The layers below register the labels whose reasons they own.
            crate::net::rejection::Rejection::register();
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the metrics upkeep thread; histograms are folded at each scrape only");
            }
            handle
        })
        .clone()
}

/// The exposition: the recorder's metrics, then those the server keeps itself
/// ([`m::UPDATE_SIZES`]).
#[must_use]
pub fn render(handle: &PrometheusHandle) -> String {
    let mut text = handle.render();
    m::UPDATE_SIZES.render(&mut text);
    text
}

/// The recorder's configuration: names as written in [`crate::metrics`] (they carry their
/// units and `_total` already) and explicit buckets for every histogram, so that they render
/// as Prometheus histograms that aggregate across processes rather than as summaries.
fn builder() -> PrometheusBuilder {
    let buckets = [
        (m::TICK_DURATION, m::TICK_SECONDS_BUCKETS),
        (m::TICK_LAG, m::TICK_SECONDS_BUCKETS),
        (m::HANDOFF_DURATION, m::HANDOFF_SECONDS_BUCKETS),
    ];
    let mut builder = PrometheusBuilder::new();
    for (name, bounds) in buckets {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.into()), bounds)
            // The only error is an empty bucket list; these are non-empty constants.
            .expect("bucket lists are non-empty");
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_describes_every_metric() {
        let text = render(&install_recorder());
        // The tick budget comes from the configuration: `Server::bind` sets it.
        for name in m::ALL.iter().filter(|&&n| n != m::TICK_BUDGET) {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has help text:\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} has a type:\n{text}"
            );
        }
        assert!(
            text.contains("tickstream_tick_duration_seconds_bucket{le=\"0.033333\"}"),
            "the tick duration is a histogram with the 30 Hz budget as a bound:\n{text}"
        );
        assert!(
            text.contains(&format!(
                "tickstream_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "build info:\n{text}"
        );
        assert!(
            install_recorder()
                .render()
                .contains("# HELP tickstream_build_info "),
            "a second install renders the same recorder"
        );
    }
}
