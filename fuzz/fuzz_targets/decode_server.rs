//! Any bytes a server might send: decoding never panics, and a decoded update applies to a
//! replica without panicking (errors are fine: the bytes were arbitrary).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstream_shared::codec::decode_server;
use tickstream_shared::{Replica, ServerMsg};

fuzz_target!(|data: &[u8]| {
    if let Ok(ServerMsg::Update(u)) = decode_server(data) {
        let mut r = Replica::new();
        let _ = r.apply(&u);
    }
});
