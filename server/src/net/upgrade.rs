//! The HTTP/1.1 exchange before the WebSocket: path, upgrade headers, subprotocol, refusals.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use fastwebsockets::upgrade::{UpgradeFut, is_upgrade_request, upgrade};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE};
use hyper::{Request, Response, StatusCode};
use tickstream_shared::{SUPPORTED_VERSIONS, WS_PATH, subprotocol};

use super::rejection::Rejection;

/// Why an upgrade was refused, with the HTTP status it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another path than `/ws`: 404.
    NotFound,
    /// Not a WebSocket upgrade request: 426.
    NotUpgrade,
    /// No supported `tickstream.vN` offered: 400.
    NoSubprotocol,
    /// Bad `Sec-WebSocket-Key` or version: 400.
    BadHandshake,
    /// At the connection cap or draining: 503.
    Unavailable,
    /// A browser `Origin` not on the allowlist: 403.
    Origin,
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::NotUpgrade => StatusCode::UPGRADE_REQUIRED,
            Self::NoSubprotocol | Self::BadHandshake => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Origin => StatusCode::FORBIDDEN,
        }
    }

    /// The reason it is counted under.
    #[must_use]
    pub fn rejection(self) -> Rejection {
        match self {
            Self::NotFound => Rejection::NotFound,
            Self::NotUpgrade => Rejection::NotUpgrade,
            Self::NoSubprotocol => Rejection::NoSubprotocol,
            Self::BadHandshake => Rejection::BadHandshake,
            Self::Unavailable => Rejection::Unavailable,
            Self::Origin => Rejection::Origin,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::NotFound => "not found: the WebSocket endpoint is /ws\n",
            Self::NotUpgrade => "this endpoint only speaks WebSocket\n",
            Self::NoSubprotocol => {
                "missing WebSocket subprotocol: offer tickstream.v6 (or tickstream.v5, tickstream.v4, tickstream.v3, tickstream.v2)\n"
            }
            Self::BadHandshake => "invalid WebSocket handshake\n",
            Self::Unavailable => "server at capacity or shutting down; try again later\n",
            Self::Origin => "this page's origin may not connect to this server\n",
        }
    }

    /// The HTTP response for this refusal.
    #[must_use]
    pub fn response(self) -> Response<Full<Bytes>> {
        let rejection = self.rejection();
        rejection.count();
        tracing::debug!(reason = rejection.label(), "upgrade refused");
        let mut resp = Response::new(Full::new(Bytes::from_static(self.message().as_bytes())));
        *resp.status_mut() = self.status();
        let headers = resp.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self == Self::NotUpgrade {
            headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        }
        if self == Self::Unavailable {
            headers.insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if self == Self::BadHandshake {
            // RFC 6455 §4.4: name the version the server speaks.
            headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        resp
    }
}

/// The highest protocol version that both the request offers among its
/// `Sec-WebSocket-Protocol` values and this server speaks, whatever the order of the offer.
#[must_use]
pub fn negotiate<B>(req: &Request<B>) -> Option<u16> {
    let offered: Vec<&str> = req
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    SUPPORTED_VERSIONS
        .into_iter()
        .find(|v| subprotocol(*v).is_some_and(|name| offered.contains(&name)))
}

/// True when the request offers a subprotocol this server speaks.
#[must_use]
pub fn offers_subprotocol<B>(req: &Request<B>) -> bool {
    negotiate(req).is_some()
}

/// Where the accepted upgrade is handed to the connection task, which runs the session, with
/// the join token from the URL's `token` query parameter, if any, and the protocol version
/// the upgrade agreed on.
pub type UpgradeSlot = Arc<Mutex<Option<(UpgradeFut, Option<String>, u16)>>>;

/// The longest `token` query value kept; a longer one cannot be genuine.
const MAX_TOKEN: usize = 512;

/// The `token` query parameter of the upgrade request.
fn token_param<B>(req: &Request<B>) -> Option<String> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(|t| t.chars().take(MAX_TOKEN + 1).collect())
}

/// True when the request may connect from its `Origin`: always with an empty allowlist or
/// without an `Origin` header (native clients send none; browsers always do); otherwise for an
/// exact match (scheme, host and port, as browsers send it), or for the server's own origin
/// (the `Origin` names the host the request was sent to: the demo page this server serves).
#[must_use]
pub fn origin_allowed<B>(req: &Request<B>, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(origin) = req.headers().get(hyper::header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let same_host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .zip(origin.split_once("://").map(|(_, rest)| rest))
        .is_some_and(|(host, origin_host)| host.eq_ignore_ascii_case(origin_host));
    same_host || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

/// Answers one HTTP request: serves an embedded web file, refuses it, or accepts the upgrade
/// and leaves the upgrade future in `slot`.
pub fn answer(
    mut req: Request<Incoming>,
    accepting: bool,
    allowed_origins: &[String],
    slot: &UpgradeSlot,
) -> Response<Full<Bytes>> {
    if req.uri().path() != WS_PATH {
        // The demo page and the client library, for plain requests of their paths.
        if !is_upgrade_request(&req)
            && let Some(resp) = super::static_files::response(&req)
        {
            return resp;
        }
        return Refusal::NotFound.response();
    }
    if !is_upgrade_request(&req) {
        return Refusal::NotUpgrade.response();
    }
    if !accepting {
        return Refusal::Unavailable.response();
    }
    if !origin_allowed(&req, allowed_origins) {
        return Refusal::Origin.response();
    }
    let Some((version, name)) = negotiate(&req).and_then(|v| Some((v, subprotocol(v)?))) else {
        return Refusal::NoSubprotocol.response();
    };
    let Ok((resp, fut)) = upgrade(&mut req) else {
        return Refusal::BadHandshake.response();
    };
    let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_some() {
        // A second upgrade on one connection cannot happen in HTTP/1.1; refuse it anyway.
        return Refusal::BadHandshake.response();
    }
    *guard = Some((fut, token_param(&req), version));
    let (mut parts, _) = resp.into_parts();
    parts
        .headers
        .insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(name));
    Response::from_parts(parts, Full::new(Bytes::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(protocols: &[&str]) -> Request<()> {
        let mut b = Request::builder().uri("/ws");
        for p in protocols {
            b = b.header(SEC_WEBSOCKET_PROTOCOL, *p);
        }
        b.body(()).expect("request builds")
    }

    #[test]
    fn origins_are_matched_exactly_when_a_list_is_set() {
        let with = |o: &str| {
            Request::builder()
                .header(hyper::header::ORIGIN, o)
                .body(())
                .expect("request builds")
        };
        let list = vec!["https://game.example".to_owned()];
        assert!(
            origin_allowed(&with("https://evil.example"), &[]),
            "empty list: all"
        );
        assert!(
            origin_allowed(&with("https://game.example"), &list),
            "listed"
        );
        assert!(
            !origin_allowed(&with("https://evil.example"), &list),
            "not listed"
        );
        assert!(
            !origin_allowed(&with("https://game.example.evil"), &list),
            "no prefix match"
        );
        assert!(
            origin_allowed(&req(&[]), &list),
            "no Origin header: a native client"
        );
    }

    #[test]
    fn a_bad_handshake_answer_names_the_supported_version() {
        let resp = Refusal::BadHandshake.response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "400");
        assert_eq!(
            resp.headers().get(SEC_WEBSOCKET_VERSION),
            Some(&HeaderValue::from_static("13")),
            "Sec-WebSocket-Version: 13, as RFC 6455 asks"
        );
    }

    #[test]
    fn subprotocol_is_found_in_lists_and_repeated_headers() {
        assert!(offers_subprotocol(&req(&["tickstream.v2"])), "alone");
        assert_eq!(negotiate(&req(&["tickstream.v2"])), Some(2), "v2 alone: v2");
        assert_eq!(negotiate(&req(&["tickstream.v3"])), Some(3), "v3 alone: v3");
        assert_eq!(
            negotiate(&req(&["tickstream.v2, tickstream.v3"])),
            Some(3),
            "both: the highest, whatever the order"
        );
        assert_eq!(
            negotiate(&req(&["tickstream.v1", "tickstream.v9"])),
            None,
            "versions this server does not speak"
        );
        assert!(
            offers_subprotocol(&req(&["other, tickstream.v2"])),
            "in a list"
        );
        assert!(
            offers_subprotocol(&req(&["other", "tickstream.v2"])),
            "in a second header"
        );
        assert!(!offers_subprotocol(&req(&[])), "missing");
        assert!(
            !offers_subprotocol(&req(&["tickstream.v20"])),
            "a longer name is not it"
        );
    }
}
