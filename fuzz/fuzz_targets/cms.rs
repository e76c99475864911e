#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod harness {
    include!("../harness/custody.rs");
}

fuzz_target!(|data: &[u8]| {
    let _ = harness::cms(data);
});
