//! Opening a connection: URL, TCP, TLS, and the HTTP/1.1 upgrade offering the Tickstream
//! subprotocols (PROTOCOL.md §2).
//!
//! A [`Connector`] does the per-run work once (parsing the URL, building the TLS configuration,
//! resolving the host) so that thousands of bots only pay for their own handshakes.
//!
//! ```
//! use tickstream_client::{ConnectOptions, Connector};
//!
//! // Offers `tickstream.v5` down to `tickstream.v2`; the server picks the highest it speaks.
//! let opts = ConnectOptions { token: Some("TOKEN".into()), ..ConnectOptions::default() };
//! let connector = Connector::new("ws://127.0.0.1:7000/ws", &opts)?;
//! assert_eq!(connector.url(), "ws://127.0.0.1:7000/ws");
//! # Ok::<(), tickstream_client::ConnectError>(())
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Role, WebSocket};
use http_body_util::Empty;
use hyper::header::{
    CONNECTION, HOST, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use hyper::upgrade::Upgraded;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio_rustls::TlsConnector;

use crate::connection::Connection;
use crate::counting::{CountingStream, ReadCounter};
use crate::tls::{Trust, client_config};

/// How to connect, apart from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Accept any server certificate (`wss://` only). Meant for a local self-signed server.
    pub insecure: bool,
    /// A PEM file with the certificate(s) to trust (the server's own or its CA).
    pub ca: Option<PathBuf>,
    /// The subprotocols offered in the upgrade request, in this order; the server picks the
    /// highest version it speaks and must echo one of them. Empty offers none, which the
    /// server refuses (tests use it to see the refusal). See [`ConnectOptions::protocol`].
    pub subprotocols: Vec<String>,
    /// A join token from the game's backend, sent as the `token` query parameter of the
    /// upgrade URL (PROTOCOL.md §2.2a); a server without a join secret ignores it.
    pub token: Option<String>,
    /// The longest a connection (TCP, TLS and upgrade together) may take.
    pub timeout: Duration,
}

impl ConnectOptions {
    /// These options offering only protocol `version` (`None` offers nothing: the server
    /// refuses the upgrade with 400).
    ///
    /// ```
    /// use tickstream_client::ConnectOptions;
    ///
    /// let v2 = ConnectOptions::default().protocol(2);
    /// assert_eq!(v2.subprotocols, ["tickstream.v2"]);
    /// ```
    #[must_use]
    pub fn protocol(mut self, version: u16) -> Self {
        self.subprotocols = tickstream_shared::subprotocol(version)
            .map(str::to_owned)
            .into_iter()
            .collect();
        self
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            // Certificates are checked unless the user asks otherwise.
            insecure: false,
            // No built-in roots: a game trusts its own server's certificate or CA, given here.
            ca: None,
            // Every version this crate speaks, newest first: a server that still runs an older
            // release keeps working.
            subprotocols: tickstream_shared::SUPPORTED_VERSIONS
                .iter()
                .filter_map(|v| tickstream_shared::subprotocol(*v))
                .map(str::to_owned)
                .collect(),
            // Most servers need none.
            token: None,
            // Long enough for 2,000 TLS handshakes queued on a busy two-core machine.
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not `ws://HOST[:PORT]/PATH` or `wss://…`.
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA file could not be read or is not PEM.
    #[error("cannot read CA file {}: {cause}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The underlying problem.
        cause: rustls::pki_types::pem::Error,
    },
    /// A certificate in the CA file is not a usable trust anchor.
    #[error("CA file {} holds an unusable certificate: {cause}", path.display())]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// The underlying problem.
        cause: rustls::Error,
    },
    /// The CA file has no certificate in it.
    #[error("CA file {} holds no certificate", .0.display())]
    NoCaCertificate(PathBuf),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    TlsConfig(rustls::Error),
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {cause}")]
    Resolve {
        /// The host name.
        host: String,
        /// The underlying problem.
        cause: std::io::Error,
    },
    /// The TCP connection failed.
    #[error("TCP connect to {addr} failed: {cause}")]
    Tcp {
        /// The address tried last.
        addr: SocketAddr,
        /// The underlying problem.
        cause: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {cause}{hint}")]
    Tls {
        /// The underlying problem.
        cause: std::io::Error,
        /// What the user can do about it, or empty.
        hint: &'static str,
    },
    /// The server answered the upgrade request with an HTTP status other than 101.
    #[error("the server refused the WebSocket upgrade with HTTP status {0}")]
    Status(u16),
    /// The HTTP exchange of the upgrade failed (connection lost, not HTTP).
    #[error("WebSocket upgrade failed: {0}")]
    Http(hyper::Error),
    /// The server answered 101 without the headers that complete a WebSocket upgrade.
    #[error("invalid upgrade response: {0}")]
    BadUpgrade(&'static str),
    /// The upgrade request could not be built (e.g. a subprotocol that is not a header value).
    #[error("cannot build the upgrade request: {0}")]
    Request(hyper::http::Error),
    /// The server accepted the upgrade without echoing one of the offered subprotocols.
    #[error("the server chose subprotocol {got:?}, offered {offered:?}")]
    Subprotocol {
        /// The subprotocols offered.
        offered: Vec<String>,
        /// The one in the response, if any.
        got: Option<String>,
    },
    /// The join token holds characters that cannot go into a URL's query unescaped.
    #[error("the join token must be URL-safe (letters, digits, `-._~`)")]
    BadToken,
    /// Connecting took longer than [`ConnectOptions::timeout`].
    #[error("connecting took longer than {0:?}")]
    Timeout(Duration),
}

impl ConnectError {
    /// The HTTP status of a refused upgrade.
    #[must_use]
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Status(s) => Some(*s),
            _ => None,
        }
    }
}

const NO_TRUST_HINT: &str = " (no trusted certificate was given: set `ca` (the bots' --ca FILE) \
     to the server's certificate or CA in PEM, or `insecure` (--insecure) for a self-signed \
     development server)";

/// Where to connect and how, prepared once and shared by every bot of a run.
pub struct Connector {
    url: String,
    host: String,
    port: u16,
    /// The `Host` header: the URL's authority as written.
    authority: String,
    path: String,
    tls: Option<(TlsConnector, ServerName<'static>, Trust)>,
    subprotocols: Vec<String>,
    /// The offer as one header value (`tickstream.v5, tickstream.v4, …`), built once.
    offer: String,
    timeout: Duration,
    /// Resolved on first use, so 2,000 bots do not each ask the resolver.
    addrs: OnceCell<Vec<SocketAddr>>,
    /// The options it was built with, for [`Connector::for_url`].
    opts: ConnectOptions,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("url", &self.url)
            .field("trust", &self.tls.as_ref().map(|(_, _, trust)| trust))
            .field("subprotocols", &self.subprotocols)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Parses `url` (`ws://` or `wss://`) and prepares TLS. Fails on a bad URL or CA file.
    pub fn new(url: &str, opts: &ConnectOptions) -> Result<Self, ConnectError> {
        let bad = |reason: &str| ConnectError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        let secure = match uri.scheme_str() {
            Some("wss") => true,
            Some("ws") => false,
            _ => return Err(bad("the scheme must be ws or wss")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information is not supported"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = authority
            .port_u16()
            .unwrap_or(if secure { 443 } else { 80 });
        let mut path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        if let Some(token) = &opts.token {
            // Tokens are base64url and dots; anything else would need escaping, which a
            // token from a conforming backend never does.
            let safe = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            if token.is_empty() || !token.bytes().all(safe) {
                return Err(ConnectError::BadToken);
            }
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str("token=");
            path.push_str(token);
        }
        let tls = if secure {
            let (config, trust) = client_config(opts.insecure, opts.ca.as_deref())?;
            let name = ServerName::try_from(host.clone())
                .map_err(|_| bad("the host is not a valid TLS server name"))?;
            Some((TlsConnector::from(config), name, trust))
        } else {
            None
        };
        Ok(Self {
            url: url.to_owned(),
            host,
            port,
            authority: authority.as_str().to_owned(),
            path,
            tls,
            subprotocols: opts.subprotocols.clone(),
            offer: opts.subprotocols.join(", "),
            timeout: opts.timeout,
            addrs: OnceCell::new(),
            opts: opts.clone(),
        })
    }

    /// A connector with the same options for another URL: where a room went when the server
    /// handed it over (protocol v5's `Moved`).
    pub fn for_url(&self, url: &str) -> Result<Self, ConnectError> {
        Self::new(url, &self.opts)
    }

    /// The URL this connector was built from.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens one connection: TCP (with `TCP_NODELAY`), TLS for `wss://`, then the upgrade.
    pub async fn connect(&self) -> Result<Connection, ConnectError> {
        tokio::time::timeout(self.timeout, self.connect_inner())
            .await
            .map_err(|_| ConnectError::Timeout(self.timeout))?
    }

    async fn connect_inner(&self) -> Result<Connection, ConnectError> {
        // Counts what arrives on the socket, below TLS: the bytes on the wire.
        let socket = ReadCounter::default();
        let tcp = CountingStream::new(self.tcp().await?, socket.clone());
        let request = self.request()?;
        let upgrade = match &self.tls {
            Some((connector, name, trust)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|cause| ConnectError::Tls {
                        cause,
                        hint: if *trust == Trust::Nothing {
                            NO_TRUST_HINT
                        } else {
                            ""
                        },
                    })?;
                upgrade(request, stream).await
            }
            None => upgrade(request, tcp).await,
        };
        let (ws, response) = upgrade?;
        let chosen = response
            .headers()
            .get(SEC_WEBSOCKET_PROTOCOL)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let offered = |c: &str| self.subprotocols.iter().any(|o| o == c);
        if !self.subprotocols.is_empty() && !chosen.as_deref().is_some_and(offered) {
            return Err(ConnectError::Subprotocol {
                offered: self.subprotocols.clone(),
                got: chosen,
            });
        }
        Ok(Connection::new(ws, chosen).with_socket_counter(socket))
    }

    async fn tcp(&self) -> Result<TcpStream, ConnectError> {
        let addrs = self
            .addrs
            .get_or_try_init(|| async {
                tokio::net::lookup_host((self.host.as_str(), self.port))
                    .await
                    .map(Iterator::collect::<Vec<_>>)
                    .map_err(|cause| ConnectError::Resolve {
                        host: self.host.clone(),
                        cause,
                    })
            })
            .await?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    // Inputs are tiny and latency is measured: never wait for Nagle.
                    tcp.set_nodelay(true)
                        .map_err(|cause| ConnectError::Tcp { addr: *addr, cause })?;
                    return Ok(tcp);
                }
                Err(cause) => last = Some(ConnectError::Tcp { addr: *addr, cause }),
            }
        }
        Err(last.unwrap_or_else(|| ConnectError::Resolve {
            host: self.host.clone(),
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        }))
    }

    fn request(&self) -> Result<Request<Empty<Bytes>>, ConnectError> {
        let mut builder = Request::builder()
            .method("GET")
            .uri(self.path.as_str())
            .header(HOST, self.authority.as_str())
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "upgrade")
            .header(SEC_WEBSOCKET_KEY, fastwebsockets::handshake::generate_key())
            .header(SEC_WEBSOCKET_VERSION, "13");
        if !self.offer.is_empty() {
            builder = builder.header(SEC_WEBSOCKET_PROTOCOL, self.offer.as_str());
        }
        builder.body(Empty::new()).map_err(ConnectError::Request)
    }
}

/// Connects once to `url`: a [`Connector`] used for a single connection (tests, tools).
pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Connection, ConnectError> {
    Connector::new(url, opts)?.connect().await
}

/// The client side of the HTTP/1.1 upgrade, as `fastwebsockets::handshake::client` does it
/// but with RFC 6455's header rules: `Connection` must *contain* the `upgrade` token (a server
/// may answer `Connection: upgrade, close`), and the response is kept for the caller to check
/// the subprotocol. Like fastwebsockets, it does not check `Sec-WebSocket-Accept` (no SHA-1
/// here); the subprotocol echo already shows a WebSocket server answered.
async fn upgrade<S>(
    request: Request<Empty<Bytes>>,
    socket: S,
) -> Result<
    (
        WebSocket<TokioIo<Upgraded>>,
        Response<hyper::body::Incoming>,
    ),
    ConnectError,
>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(socket))
        .await
        .map_err(ConnectError::Http)?;
    // Drives the connection until the upgrade hands the socket over; its errors also reach
    // `send_request` or `upgrade::on`, which report them.
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut response = sender
        .send_request(request)
        .await
        .map_err(ConnectError::Http)?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(ConnectError::Status(response.status().as_u16()));
    }
    let headers = response.headers();
    let upgrade_ok = headers
        .get(UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !upgrade_ok {
        return Err(ConnectError::BadUpgrade("no `Upgrade: websocket`"));
    }
    let connection_ok = headers.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|b| *b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    if !connection_ok {
        return Err(ConnectError::BadUpgrade("no `upgrade` in `Connection`"));
    }
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .map_err(ConnectError::Http)?;
    let ws = WebSocket::after_handshake(TokioIo::new(upgraded), Role::Client);
    Ok((ws, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insecure() -> ConnectOptions {
        ConnectOptions {
            insecure: true,
            ..ConnectOptions::default()
        }
    }

    #[test]
    fn urls_are_parsed() {
        let c = Connector::new("wss://127.0.0.1:7443/ws", &insecure()).expect("valid URL");
        assert_eq!(
            (c.host.as_str(), c.port, c.path.as_str()),
            ("127.0.0.1", 7443, "/ws"),
            "host, port and path"
        );
        assert!(c.tls.is_some(), "wss uses TLS");
        let c = Connector::new("ws://localhost/ws?x=1", &insecure()).expect("valid URL");
        assert_eq!(
            (c.host.as_str(), c.port, c.path.as_str()),
            ("localhost", 80, "/ws?x=1"),
            "default port, query kept"
        );
        assert!(c.tls.is_none(), "ws is plain");
        let c = Connector::new("wss://[::1]:9/ws", &insecure()).expect("valid URL");
        assert_eq!(c.host, "::1", "brackets stripped for connecting");
        assert_eq!(c.authority, "[::1]:9", "but kept for the Host header");
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in ["http://x/ws", "127.0.0.1:7443", "wss://u@x/ws", "not a url"] {
            assert!(
                matches!(
                    Connector::new(url, &insecure()),
                    Err(ConnectError::BadUrl { .. })
                ),
                "{url} is refused"
            );
        }
    }

    #[test]
    fn the_request_offers_the_subprotocol_unless_told_not_to() {
        let c = Connector::new("ws://127.0.0.1:1/ws", &ConnectOptions::default()).expect("valid");
        let req = c.request().expect("builds");
        assert_eq!(
            req.headers()
                .get(SEC_WEBSOCKET_PROTOCOL)
                .map(|v| v.as_bytes()),
            Some(&b"tickstream.v6, tickstream.v5, tickstream.v4, tickstream.v3, tickstream.v2"[..]),
            "every version offered by default, newest first"
        );
        assert_eq!(req.uri().to_string(), "/ws", "origin-form target");
        let opts = ConnectOptions {
            subprotocols: Vec::new(),
            ..ConnectOptions::default()
        };
        let c = Connector::new("ws://127.0.0.1:1/ws", &opts).expect("valid");
        let req = c.request().expect("builds");
        assert!(
            req.headers().get(SEC_WEBSOCKET_PROTOCOL).is_none(),
            "not offered when empty"
        );
    }

    #[test]
    fn a_join_token_goes_into_the_query() {
        let opts = ConnectOptions {
            token: Some("abc.DEF-1_".into()),
            ..ConnectOptions::default()
        };
        let c = Connector::new("ws://127.0.0.1:1/ws", &opts).expect("valid");
        assert_eq!(c.path, "/ws?token=abc.DEF-1_", "token as the query");
        let c = Connector::new("ws://127.0.0.1:1/ws?x=1", &opts).expect("valid");
        assert_eq!(
            c.path, "/ws?x=1&token=abc.DEF-1_",
            "token appended to a query"
        );
        let bad = ConnectOptions {
            token: Some("a&b".into()),
            ..ConnectOptions::default()
        };
        assert!(
            matches!(
                Connector::new("ws://127.0.0.1:1/ws", &bad),
                Err(ConnectError::BadToken)
            ),
            "an unsafe token is refused"
        );
    }
}
