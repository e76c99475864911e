#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod harness {
    include!("../harness/acme_service.rs");
    include!("../harness/structured.rs");
}

fuzz_target!(|input: harness::AcmeRequest| {
    let _ = harness::acme_request(&input);
});
