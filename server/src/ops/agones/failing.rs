//! [`Failing`]: a sidecar call's failures, logged when they start and when they stop.

use std::collections::HashSet;

use super::SdkError;
use crate::metrics as m;

/// Which calls are failing now, so that a dead sidecar is logged when it starts and stops
/// failing rather than once per period; every failure is counted.
#[derive(Default)]
pub(super) struct Failing(HashSet<&'static str>);

impl Failing {
    pub(super) fn failed(&mut self, call: &'static str, error: &SdkError) {
        metrics::counter!(m::AGONES_ERRORS, "call" => call).increment(1);
        if self.0.insert(call) {
            tracing::warn!(call, %error, "agones: sidecar call failed; retrying");
        } else {
            tracing::debug!(call, %error, "agones: sidecar call failed again");
        }
    }

    pub(super) fn succeeded(&mut self, call: &'static str) {
        if self.0.remove(call) {
            tracing::info!(call, "agones: sidecar call succeeded again");
        }
    }
}
