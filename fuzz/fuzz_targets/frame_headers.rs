//! Any byte stream on a client connection, in any chunking: the frame-header checker never
//! panics.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use tickstream_server::net::frame_guard::{FrameGuard, Violations};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let mut guard = FrameGuard::new((), Arc::new(Violations::default()));
    let step = usize::from(split).max(1);
    for chunk in rest.chunks(step) {
        guard.observe(chunk);
    }
});
