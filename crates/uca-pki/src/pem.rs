//! Lenient PEM reading, as OpenSSL reads it: text before and after a block is ignored, base64 may
//! be wrapped at any width (or not at all), line ends may be CRLF. Writing stays strict (RFC 7468).

use base64ct::{Base64, Encoding};

/// One PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub label: String,
    pub der: Vec<u8>,
}

/// Why a PEM text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    /// No `-----BEGIN …-----` line at all.
    NoBlock,
    /// A block without its END line, or with an END line for another label.
    Unterminated(String),
    /// The body is not base64.
    BadBase64(String),
}

impl std::fmt::Display for PemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PemError::NoBlock => f.write_str("no PEM block"),
            PemError::Unterminated(l) => write!(f, "the PEM block '{l}' has no matching END line"),
            PemError::BadBase64(l) => write!(f, "the PEM block '{l}' does not hold valid base64"),
        }
    }
}

/// Every PEM block of `text`, in order.
pub fn blocks(text: &str) -> Result<Vec<Block>, PemError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| PemError::Unterminated(String::new()))?;
        let label = after[..label_end].to_string();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start
            .find(&end_marker)
            .ok_or_else(|| PemError::Unterminated(label.clone()))?;
        let body = &body_start[..body_end];
        // Encapsulated headers (RFC 1421 "Proc-Type:") mean legacy encryption, not base64.
        if body.contains(':') {
            return Err(PemError::BadBase64(label));
        }
        let cleaned: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = Base64::decode_vec(&cleaned).map_err(|_| PemError::BadBase64(label.clone()))?;
        out.push(Block { label, der });
        rest = &body_start[body_end + end_marker.len()..];
    }
    if out.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(out)
}

/// The first block whose label is one of `labels`; `Ok(None)` if the text has blocks but none of
/// those labels.
pub fn first(text: &str, labels: &[&str]) -> Result<Option<Block>, PemError> {
    Ok(blocks(text)?
        .into_iter()
        .find(|b| labels.contains(&b.label.as_str())))
}

/// True when the bytes look like PEM text rather than DER.
pub fn looks_like_pem(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|s| s.contains("-----BEGIN "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_openssl_reads() {
        let body = Base64::encode_string(&[0x30, 0x03, 0x02, 0x01, 0x05]);
        let text = format!(
            "junk before\r\n-----BEGIN X-----\r\n{body}\r\n-----END X-----\r\n\r\ntrailing  \n"
        );
        let b = first(&text, &["X"]).unwrap().unwrap();
        assert_eq!(b.der, vec![0x30, 0x03, 0x02, 0x01, 0x05]);
        assert_eq!(first(&text, &["Y"]).unwrap(), None);
        assert_eq!(blocks("nothing"), Err(PemError::NoBlock));
        assert!(matches!(
            blocks("-----BEGIN X-----\nAAAA\n"),
            Err(PemError::Unterminated(_))
        ));
        assert!(matches!(
            blocks("-----BEGIN X-----\n!!!!\n-----END X-----"),
            Err(PemError::BadBase64(_))
        ));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use pkcs8::der::pem::LineEnding;
    use proptest::prelude::*;

    fn label() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("CERTIFICATE".to_string()),
            Just("PRIVATE KEY".to_string()),
            Just("X509 CRL".to_string()),
            "[A-Z0-9]{1,8}( [A-Z0-9]{1,8}){0,2}",
        ]
    }

    /// Strict PEM as uca writes it (the `der` crate's encoder: RFC 7468, 64 columns, LF).
    fn written(label: &str, der: &[u8]) -> String {
        pkcs8::der::pem::encode_string(label, LineEnding::LF, der).unwrap()
    }

    proptest! {
        /// What uca writes, uca reads back: label and bytes.
        #[test]
        fn written_pem_reads_back(label in label(), der in prop::collection::vec(any::<u8>(), 0..600)) {
            let text = written(&label, &der);
            prop_assert_eq!(blocks(&text), Ok(vec![Block { label, der }]));
        }

        /// The lenient forms OpenSSL reads give the same bytes: text around the block, CRLF,
        /// any line width, several blocks in a row.
        #[test]
        fn lenient_forms_read_the_same(
            blocks_in in prop::collection::vec((label(), prop::collection::vec(any::<u8>(), 1..200)), 1..4),
            width in 1usize..100,
            crlf in any::<bool>(),
            before in "[a-z .,\n]{0,40}",
            after in "[a-z .,\n]{0,40}",
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = before.clone();
            for (label, der) in &blocks_in {
                let b64 = Base64::encode_string(der);
                let lines: Vec<&str> = b64
                    .as_bytes()
                    .chunks(width)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect();
                text.push_str(&format!("{nl}-----BEGIN {label}-----{nl}{}{nl}-----END {label}-----{nl}", lines.join(nl)));
            }
            text.push_str(&after);
            let want: Vec<Block> = blocks_in
                .into_iter()
                .map(|(label, der)| Block { label, der })
                .collect();
            prop_assert_eq!(blocks(&text), Ok(want));
        }

        /// Reading never panics, whatever the text.
        #[test]
        fn reading_never_panics(text in any::<String>()) {
            let _ = blocks(&text);
            let _ = first(&text, &["CERTIFICATE"]);
        }

        /// Near misses: pieces of PEM armor in any order.
        #[test]
        fn reading_never_panics_on_armor(parts in prop::collection::vec(prop_oneof![
            Just("-----BEGIN ".to_string()),
            Just("-----END ".to_string()),
            Just("-----".to_string()),
            Just("CERTIFICATE".to_string()),
            Just("\n".to_string()),
            "[A-Za-z0-9+/=:]{0,8}",
        ], 0..20)) {
            let text = parts.concat();
            let _ = blocks(&text);
        }
    }
}
