//! [`Successor`]: where a draining server's rooms go, as the room sees it.
//!
//! The room does not know HTTP: the server passes down an implementation (the ops layer's
//! signed POST to the successor's `/internal/handoff`). A room that stops for the drain saves
//! itself, offers the bytes, and only on success tells its v5 players where to resume; any
//! failure drains the room as before (1001). Every attempt is counted by outcome
//! ([`crate::metrics::HANDOFFS`]) and timed.

use std::future::Future;
use std::pin::Pin;

/// Why a room could not be handed over; the metric label says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    /// The room's game cannot save its world.
    #[error("the game cannot save its world")]
    Unsupported,
    /// No successor is configured (yet).
    #[error("no successor configured")]
    NoSuccessor,
    /// The successor could not be reached.
    #[error("successor unreachable: {0}")]
    Unreachable(String),
    /// The successor did not answer in time.
    #[error("the successor did not answer in time")]
    Timeout,
    /// The successor answered, and not with 200.
    #[error("the successor refused the room: {0}")]
    Refused(String),
    /// The saved room is larger than the successor accepts.
    #[error("the saved room is too big to send")]
    TooBig,
}

impl HandoffError {
    /// The `outcome` label of [`crate::metrics::HANDOFFS`].
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unsupported => "unsupported",
            Self::NoSuccessor => "no_successor",
            Self::Unreachable(_) => "unreachable",
            Self::Timeout => "timeout",
            Self::Refused(_) => "refused",
            Self::TooBig => "too_big",
        }
    }
}

/// What an offer returns: the WebSocket URL players resume at.
pub type HandoffResult = Result<String, HandoffError>;

/// A process that takes rooms over.
pub trait Successor: Send + Sync + 'static {
    /// Offers the saved room `saved` (a [`super::SavedRoom`]'s bytes) named `room`; on success,
    /// the room runs there now, and the answer is the URL its players resume at.
    fn hand_over<'a>(
        &'a self,
        room: &'a str,
        saved: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = HandoffResult> + Send + 'a>>;
}
