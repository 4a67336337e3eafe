//! load → validate → render → emit on arbitrary profile text: no input may panic.
#![no_main]

mod pipeline;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pipeline::render(data);
});
