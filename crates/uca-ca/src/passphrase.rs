//! `uca passphrase change`: re-encrypt the CA key. The new file replaces the old one by an
//! atomic rename, so after a crash exactly one of the two passphrases opens the key.

use uca_pki::PrivateKey;
use zeroize::Zeroizing;

use crate::fsio::{self, KEY_MODE, io_err};
use crate::{Ca, CaError};

impl Ca {
    /// `old`: the current passphrase (None if the key is unencrypted). `new`: the new one (None
    /// to store the key unencrypted, which the caller confirms twice).
    pub fn change_passphrase(
        &mut self,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<(), CaError> {
        self.ensure_can_sign()?;
        let path = self.paths.ca_key();
        let data = Zeroizing::new(std::fs::read(&path).map_err(io_err("read", &path))?);
        let key = PrivateKey::from_pem_or_der(&data, old)?;
        if old.is_some() && old == new {
            return Err(CaError::SamePassphrase);
        }
        // The key must still be this CA's before anything is rewritten.
        uca_pki::sign::CaSigner::new(&self.cert_der, PrivateKey::from_pem_or_der(&data, old)?)?;
        let pem = match new {
            Some(p) => key.to_encrypted_pem(p)?,
            None => key.to_pem()?,
        };
        fsio::write_atomic(&path, pem.as_bytes(), KEY_MODE)
    }
}
