//! The browser demo page and the JavaScript client library, served beside `/ws`.
//!
//! The files of `assets/web/` are compiled into the binary, so the server serves the page from
//! a fresh clone with no files to deploy: `https://HOST:7443/` on the wss listener (and
//! `http://` on the plain ws listener). The page connects back to the host and port it came
//! from. Only `GET` and `HEAD` of the paths below are answered here; every other path, and any
//! WebSocket upgrade, goes on to the upgrade logic (so `/ws` keeps its 426 for plain GETs).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    HeaderValue, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};

/// One embedded file and the path it is served at.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The URL path, from the root.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The file's bytes.
    pub body: &'static [u8],
    /// Readable from pages of any origin (`Access-Control-Allow-Origin: *`): the client
    /// library, so that a game page elsewhere can `import` it from its game server.
    pub shared: bool,
}

/// Everything served. `tickstream.js` and `tickstream.d.ts` are the client library itself, so
/// that a game page can import it straight from its server.
pub const ASSETS: [Asset; 5] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../../assets/web/index.html"),
        shared: false,
    },
    Asset {
        path: "/demo.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../assets/web/demo.js"),
        shared: false,
    },
    Asset {
        path: "/demo.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../assets/web/demo.css"),
        shared: false,
    },
    Asset {
        path: "/tickstream.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../assets/web/tickstream.js"),
        shared: true,
    },
    Asset {
        path: "/tickstream.d.ts",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../../assets/web/tickstream.d.ts"),
        shared: true,
    },
];

/// The page may run only its own scripts and styles, and talk only to WebSocket endpoints
/// (its own server's among them); nothing may frame it.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self' wss: ws:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The embedded file served at `path`, if any.
#[must_use]
pub fn lookup(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The answer to a request for an embedded file, or `None` when the path names none (the
/// caller goes on to the WebSocket endpoint or its 404).
#[must_use]
pub fn response<B>(req: &Request<B>) -> Option<Response<Full<Bytes>>> {
    let asset = lookup(req.uri().path())?;
    let mut resp = if req.method() == Method::GET || req.method() == Method::HEAD {
        // hyper leaves the body out of a HEAD answer and keeps its Content-Length.
        Response::new(Full::new(Bytes::from_static(asset.body)))
    } else {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"only GET and HEAD\n")));
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        resp
    };
    let status = resp.status();
    let headers = resp.headers_mut();
    let content_type = if status.is_success() {
        asset.content_type
    } else {
        "text/plain; charset=utf-8"
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Always revalidate: a new server binary may carry a new client.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if asset.shared {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    tracing::debug!(path = asset.path, %status, "static file");
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, uri: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .expect("request builds")
    }

    fn header<'a>(resp: &'a Response<Full<Bytes>>, name: &str) -> &'a str {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn every_asset_is_served_with_its_type_and_the_security_headers() {
        for asset in &ASSETS {
            let resp = response(&req(Method::GET, asset.path)).expect("an asset path");
            assert_eq!(resp.status(), StatusCode::OK, "{} answers 200", asset.path);
            assert_eq!(
                header(&resp, "content-type"),
                asset.content_type,
                "{}",
                asset.path
            );
            assert_eq!(header(&resp, "cache-control"), "no-cache", "{}", asset.path);
            assert_eq!(
                header(&resp, "x-content-type-options"),
                "nosniff",
                "{}",
                asset.path
            );
            assert!(
                header(&resp, "content-security-policy").contains("connect-src 'self' wss: ws:"),
                "{}: the page may open its WebSocket",
                asset.path
            );
            assert!(!asset.body.is_empty(), "{} is not empty", asset.path);
        }
    }

    #[test]
    fn the_query_does_not_matter_but_the_path_does() {
        assert!(
            response(&req(Method::GET, "/?room=r1")).is_some(),
            "the page with a room"
        );
        assert!(
            response(&req(Method::GET, "/ws")).is_none(),
            "/ws is the WebSocket endpoint"
        );
        assert!(
            response(&req(Method::GET, "/index.html")).is_none(),
            "only the listed paths"
        );
        assert!(
            response(&req(Method::GET, "/../Cargo.toml")).is_none(),
            "nothing from the disk"
        );
    }

    #[test]
    fn other_methods_get_405() {
        let resp = response(&req(Method::POST, "/")).expect("an asset path");
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "POST /");
        assert_eq!(header(&resp, "allow"), "GET, HEAD", "what is allowed");
        let head = response(&req(Method::HEAD, "/tickstream.js")).expect("an asset path");
        assert_eq!(head.status(), StatusCode::OK, "HEAD is allowed");
    }

    #[test]
    fn only_the_library_is_shared_with_other_origins() {
        for asset in &ASSETS {
            let resp = response(&req(Method::GET, asset.path)).expect("an asset path");
            let shared = header(&resp, "access-control-allow-origin") == "*";
            assert_eq!(
                shared,
                asset.path.starts_with("/tickstream."),
                "{}: importable from other origins only if it is the library",
                asset.path
            );
        }
    }

    #[test]
    fn the_page_loads_the_library_it_is_served_with() {
        let page = std::str::from_utf8(ASSETS[0].body).expect("the page is UTF-8");
        assert!(page.contains("src=\"/demo.js\""), "the page loads demo.js");
        assert!(
            page.contains("href=\"/demo.css\""),
            "the page loads demo.css"
        );
        let demo = std::str::from_utf8(lookup("/demo.js").expect("demo.js").body)
            .expect("demo.js is UTF-8");
        assert!(
            demo.contains("from \"./tickstream.js\""),
            "demo.js imports the served library"
        );
    }
}
