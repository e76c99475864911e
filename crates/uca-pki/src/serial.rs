//! Serial numbers and fingerprints, as values with one canonical text form.

use std::fmt;

use sha2::{Digest, Sha256};

/// A certificate serial number: the big-endian bytes of the (positive) DER INTEGER.
/// Text form is lowercase hex of those bytes, as in the ledger and `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// 16 random bytes from the OS CSPRNG: 127 bits of entropy, top bit clear so the DER
    /// INTEGER is positive, first byte non-zero so the encoding is exactly 16 bytes.
    pub fn random() -> Result<Serial, getrandom::Error> {
        let mut b = [0u8; 16];
        loop {
            getrandom::fill(&mut b)?;
            b[0] &= 0x7f;
            if b[0] != 0 {
                return Ok(Serial(b.to_vec()));
            }
        }
    }

    /// From the raw DER INTEGER content bytes (as x509-parser gives them).
    pub fn from_der_content(bytes: &[u8]) -> Serial {
        let mut b = bytes;
        while b.len() > 1 && b[0] == 0 {
            b = &b[1..];
        }
        Serial(b.to_vec())
    }

    /// Parses user input: hex with optional `0x` prefix or `:` separators, any case.
    pub fn parse(input: &str) -> Option<Serial> {
        let s = input.trim();
        let s = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        let hexdigits: String = s.chars().filter(|c| *c != ':').collect();
        if hexdigits.is_empty() || !hexdigits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let padded = if hexdigits.len() % 2 == 1 {
            format!("0{hexdigits}")
        } else {
            hexdigits
        };
        hex::decode(padded)
            .ok()
            .map(|b| Serial::from_der_content(&b))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// SHA-256 fingerprint of a certificate's DER, printed like `openssl x509 -fingerprint -sha256`
/// (uppercase hex pairs joined by `:`), so the two can be compared by eye or by `grep`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&parts.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_positive_and_sixteen_bytes() {
        for _ in 0..1000 {
            let s = Serial::random().unwrap();
            assert_eq!(s.as_bytes().len(), 16);
            assert!(s.as_bytes()[0] != 0 && s.as_bytes()[0] < 0x80);
        }
    }

    #[test]
    fn parse_accepts_openssl_forms() {
        let s = Serial::parse("0A:1B:FF").unwrap();
        assert_eq!(s.hex(), "0a1bff");
        assert_eq!(Serial::parse("0x0a1bff").unwrap(), s);
        assert_eq!(Serial::parse("A1BFF").unwrap(), s);
        assert!(Serial::parse("xyz").is_none());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The text form parses back, in every form `Serial::parse` takes (0x, colons, case).
        #[test]
        fn hex_parses_back(bytes in prop::collection::vec(any::<u8>(), 1..=20), colons in any::<bool>(), upper in any::<bool>(), prefix in any::<bool>()) {
            let serial = Serial::from_der_content(&bytes);
            let mut text = if colons {
                serial.as_bytes().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
            } else {
                serial.hex()
            };
            if upper {
                text = text.to_ascii_uppercase();
            }
            if prefix {
                text = format!("0x{text}");
            }
            prop_assert_eq!(Serial::parse(&text), Some(serial.clone()));
            prop_assert_eq!(Serial::parse(&serial.to_string()), Some(serial));
        }

        /// The stored form is minimal: no leading zero byte (but zero itself is one byte).
        #[test]
        fn content_is_minimal(bytes in prop::collection::vec(any::<u8>(), 1..=20)) {
            let serial = Serial::from_der_content(&bytes);
            let b = serial.as_bytes();
            prop_assert!(!b.is_empty());
            prop_assert!(b.len() == 1 || b[0] != 0);
            let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|x| *x == 0).collect();
            prop_assert_eq!(b, if trimmed.is_empty() { &[0u8][..] } else { &trimmed[..] });
        }

        /// Random serials: 16 bytes, positive as a DER INTEGER (top bit clear), no leading zero.
        #[test]
        fn random_serials_encode_positive_and_minimal(_n in 0u8..4) {
            let s = Serial::random().unwrap();
            let b = s.as_bytes();
            prop_assert_eq!(b.len(), 16);
            prop_assert!(b[0] != 0 && b[0] & 0x80 == 0);
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = Serial::parse(&text);
        }
    }
}
