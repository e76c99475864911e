#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod harness {
    include!("../harness/acme_service.rs");
}

fuzz_target!(|data: &[u8]| {
    let _ = harness::acme_authz(data);
});
