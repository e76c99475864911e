#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod harness {
    include!("../harness/acme.rs");
}

fuzz_target!(|data: &[u8]| {
    let _ = harness::csr_order(data);
});
