//! Any bytes as the start of a connection: the server's HTTP handling (hyper, then the upgrade
//! checks) answers or refuses without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstream_server::net::upgrade::offers_subprotocol;

fuzz_target!(|data: &[u8]| {
    // Parse what a peer sent as an HTTP request head the way hyper would accept it, then run
    // the upgrade checks on it.
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    if let Ok(httparse::Status::Complete(_)) = req.parse(data) {
        let mut builder = hyper::Request::builder().uri(req.path.unwrap_or("/"));
        for h in req.headers.iter() {
            builder = builder.header(h.name, h.value);
        }
        if let Ok(request) = builder.body(()) {
            let _ = offers_subprotocol(&request);
            let _ = tickstream_server::net::upgrade::origin_allowed(
                &request,
                &["https://a.example".to_owned()],
            );
        }
    }
});
