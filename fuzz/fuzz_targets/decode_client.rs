//! Any bytes a client sends: decoding never panics, and what decodes encodes to bytes that
//! decode and encode to the same bytes again (the encoding is stable; byte comparison, because
//! a NaN direction never equals itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstream_shared::codec::{decode_client, encode_client};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_client(data) {
        let mut once = Vec::new();
        encode_client(&msg, &mut once).expect("a decoded message encodes");
        let again = decode_client(&once).expect("an encoded message decodes");
        let mut twice = Vec::new();
        encode_client(&again, &mut twice).expect("a decoded message encodes");
        assert_eq!(once, twice, "the encoding is stable");
    }
});
