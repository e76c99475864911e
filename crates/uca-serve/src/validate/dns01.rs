//! dns-01 (RFC 8555 §8.4): a TXT record at `_acme-challenge.NAME` holding
//! base64url(SHA-256(key authorization)). The only method for wildcards.

use base64ct::{Base64UrlUnpadded, Encoding};
use hickory_resolver::proto::rr::RData;
use sha2::{Digest, Sha256};
use uca_acme::service::ValidationJob;
use uca_acme::{Identifier, Problem, ProblemType};

use super::{Validator, short};

/// The TXT value a key authorization is proven with.
pub(crate) fn txt_value(key_authorization: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(key_authorization.as_bytes()))
}

pub(super) async fn validate(v: &Validator, job: &ValidationJob) -> Result<(), Problem> {
    let Identifier::Dns(name) = job.identifier() else {
        return Err(Problem::malformed("dns-01 validates DNS names only"));
    };
    let record = format!("_acme-challenge.{name}.");
    let want = txt_value(&job.key_authorization);
    let lookup = v.resolver.txt_lookup(record.as_str()).await.map_err(|e| {
        Problem::new(
            ProblemType::Dns,
            format!("TXT lookup of {record} failed: {}", short(&e.to_string())),
        )
    })?;
    let mut seen = 0;
    for answer in lookup.answers() {
        if let RData::TXT(txt) = &answer.data {
            seen += 1;
            let value: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|part| part.iter().copied())
                .collect();
            if value == want.as_bytes() {
                return Ok(());
            }
        }
    }
    Err(Problem::new(
        ProblemType::Unauthorized,
        format!("none of the {seen} TXT record(s) at {record} is this challenge's digest"),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn txt_value_is_the_unpadded_base64url_sha256() {
        // echo -n 'abc' | openssl dgst -sha256 -binary | basenc --base64url
        assert_eq!(
            super::txt_value("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
