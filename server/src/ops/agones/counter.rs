//! [`Counter`]: one Agones Counter the server keeps at a count, and what it does when the
//! sidecar refuses it.

use super::client::SdkClient;
use super::{CounterRefusal, SdkError};
use crate::metrics as m;

/// One Agones Counter the server keeps current.
pub(super) struct Counter {
    name: String,
    /// The count Agones has, as far as the server knows.
    pushed: Option<u64>,
    /// Off after the sidecar said the GameServer declares no such Counter: reported once,
    /// never pushed again.
    disabled: bool,
    /// The last count the sidecar refused as beyond the Counter's capacity: not pushed again
    /// while the count stays there (a different count is tried once more).
    refused: Option<u64>,
    /// Whether an over-capacity refusal was logged at warn already: once per process, then
    /// at debug, so that a count hovering at the capacity does not fill the log.
    warned_over_capacity: bool,
    /// The last push failed for a reason that may pass (the sidecar missing, slow, not
    /// ready): its failure and recovery are logged once each, per Counter.
    failing: bool,
}

impl Counter {
    pub(super) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            pushed: None,
            disabled: name.is_empty(),
            refused: None,
            warned_over_capacity: false,
            failing: false,
        }
    }

    /// Sets the Counter to `count` if Agones does not have that count yet.
    pub(super) async fn push(&mut self, sdk: &SdkClient, count: u64) {
        if self.disabled || self.pushed == Some(count) || self.refused == Some(count) {
            return;
        }
        match sdk.set_counter(&self.name, count).await {
            Ok(()) => {
                self.pushed = Some(count);
                self.refused = None;
                if std::mem::take(&mut self.failing) {
                    tracing::info!(
                        call = "counter",
                        counter = %self.name,
                        "agones: sidecar call succeeded again"
                    );
                }
                tracing::debug!(counter = %self.name, count, "agones: counter updated");
            }
            Err(e) => {
                metrics::counter!(m::AGONES_ERRORS, "call" => "counter").increment(1);
                match e.counter_refusal() {
                    Some(refusal) => {
                        metrics::counter!(m::AGONES_COUNTER_REFUSALS, "reason" => refusal.label())
                            .increment(1);
                        self.refused(count, refusal, &e);
                    }
                    None if !self.failing => {
                        self.failing = true;
                        tracing::warn!(
                            call = "counter",
                            counter = %self.name,
                            error = %e,
                            "agones: sidecar call failed; retrying"
                        );
                    }
                    None => tracing::debug!(
                        call = "counter",
                        counter = %self.name,
                        error = %e,
                        "agones: sidecar call failed again"
                    ),
                }
            }
        }
    }

    /// The sidecar will not take this Counter or this count: the Fleet's `spec.counters` and
    /// the server's caps disagree (`docs/DEPLOY.md`). Said once; asking again cannot help.
    fn refused(&mut self, count: u64, refusal: CounterRefusal, e: &SdkError) {
        self.failing = false;
        match refusal {
            CounterRefusal::Undeclared => {
                self.disabled = true;
                tracing::warn!(
                    counter = %self.name,
                    error = %e,
                    "agones: the GameServer declares no such Counter (spec.counters); not reporting it"
                );
            }
            CounterRefusal::OverCapacity => {
                self.refused = Some(count);
                if std::mem::replace(&mut self.warned_over_capacity, true) {
                    tracing::debug!(
                        counter = %self.name,
                        count,
                        error = %e,
                        "agones: count beyond the Counter's capacity again; not reporting it"
                    );
                } else {
                    tracing::warn!(
                        counter = %self.name,
                        count,
                        error = %e,
                        "agones: count beyond the Counter's capacity (spec.counters); not \
                         reporting it until it changes; make the server's caps fit the capacity"
                    );
                }
            }
        }
    }
}
