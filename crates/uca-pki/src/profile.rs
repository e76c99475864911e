//! Certificate profiles: the profile, never the request, decides a certificate's extensions.

use std::fmt;
use std::str::FromStr;

use crate::PkiError;

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// TLS server (EKU serverAuth).
    Server,
    /// TLS client (EKU clientAuth).
    Client,
    /// Both ends of mutual TLS (EKU serverAuth + clientAuth): the default, since components
    /// usually accept and make connections.
    Both,
    /// Signing artifacts (EKU codeSigning).
    CodeSigning,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::Server,
        Profile::Client,
        Profile::Both,
        Profile::CodeSigning,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Server => "server",
            Profile::Client => "client",
            Profile::Both => "both",
            Profile::CodeSigning => "code-signing",
        }
    }

    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(crate) fn extended_key_usages(self) -> Vec<rcgen::ExtendedKeyUsagePurpose> {
        use rcgen::ExtendedKeyUsagePurpose as Eku;
        match self {
            Profile::Server => vec![Eku::ServerAuth],
            Profile::Client => vec![Eku::ClientAuth],
            Profile::Both => vec![Eku::ServerAuth, Eku::ClientAuth],
            Profile::CodeSigning => vec![Eku::CodeSigning],
        }
    }

    /// keyUsage for a leaf: digitalSignature always; keyEncipherment only for RSA keys, which
    /// can do RSA key transport (TLS 1.2 RSA kex). EC and Ed25519 keys cannot encipher.
    pub(crate) fn key_usages(self, rsa_key: bool) -> Vec<rcgen::KeyUsagePurpose> {
        use rcgen::KeyUsagePurpose as Ku;
        let mut out = vec![Ku::DigitalSignature];
        if rsa_key && self != Profile::CodeSigning {
            out.push(Ku::KeyEncipherment);
        }
        out
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let norm = if norm == "codesigning" || norm == "code" {
            "code-signing".to_string()
        } else {
            norm
        };
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == norm)
            .ok_or_else(|| PkiError::UnknownProfile(s.to_string()))
    }
}
