//! The permissions of files written for consumers: an octal [`FileMode`] and a numeric
//! [`Owner`], each parsed by one constructor that both `uca export` flags and plan outputs call.

use std::fmt;
use std::str::FromStr;

use crate::fsio;

/// A Unix file mode: octal (`0640`, `640` or `0o640`), at most `0o7777`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileMode(u32);

/// Why a mode is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// Not octal digits, or above `0o7777`.
    #[error("'{value}' is not an octal mode")]
    NotOctal { value: String },
    /// A private key's mode with any bit for "other" set.
    #[error("a key mode must not let everyone read the key")]
    WorldReadableKey { mode: FileMode },
}

impl FileMode {
    /// The default mode of private keys (0600).
    pub const KEY: FileMode = FileMode(fsio::KEY_MODE);
    /// The default mode of certificates (0644).
    pub const PUBLIC: FileMode = FileMode(fsio::PUBLIC_MODE);
    /// The default mode of directories written for consumers (0700).
    pub const PRIVATE_DIR: FileMode = FileMode(fsio::PRIVATE_DIR_MODE);

    /// The permission bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// This mode as a private key's: refused when it lets everyone (any "other" bit) at the key.
    pub fn for_key(self) -> Result<FileMode, ModeError> {
        if self.0 & 0o007 != 0 {
            Err(ModeError::WorldReadableKey { mode: self })
        } else {
            Ok(self)
        }
    }
}

impl FromStr for FileMode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<FileMode, ModeError> {
        u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(FileMode)
            .ok_or_else(|| ModeError::NotOctal {
                value: s.to_string(),
            })
    }
}

/// Four octal digits, as `ls -l` users write them (`0640`).
impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

/// A numeric owner, `UID:GID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// Why an owner is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    #[error("'{value}' is not UID:GID")]
    NotUidGid { value: String },
}

impl FromStr for Owner {
    type Err = OwnerError;
    fn from_str(s: &str) -> Result<Owner, OwnerError> {
        let bad = || OwnerError::NotUidGid {
            value: s.to_string(),
        };
        let (u, g) = s.split_once(':').ok_or_else(bad)?;
        Ok(Owner {
            uid: u.parse().map_err(|_| bad())?,
            gid: g.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_up_to_7777() {
        for (text, bits) in [
            ("0600", 0o600),
            ("640", 0o640),
            ("0o444", 0o444),
            ("7777", 0o7777),
        ] {
            assert_eq!(text.parse::<FileMode>().unwrap().bits(), bits, "{text}");
        }
        for text in ["", "rw-r--r--", "0800", "10000", "-1", "0o", "64O"] {
            assert_eq!(
                text.parse::<FileMode>(),
                Err(ModeError::NotOctal { value: text.into() }),
                "{text}"
            );
        }
    }

    #[test]
    fn a_key_mode_with_any_bit_for_everyone_is_refused() {
        for ok in ["0600", "0400", "0640", "0660", "0750"] {
            assert!(ok.parse::<FileMode>().unwrap().for_key().is_ok(), "{ok}");
        }
        for bad in ["0644", "0601", "0602", "0604", "0777"] {
            let mode: FileMode = bad.parse().unwrap();
            assert_eq!(
                mode.for_key(),
                Err(ModeError::WorldReadableKey { mode }),
                "{bad}"
            );
        }
    }

    #[test]
    fn owners_are_numeric_uid_colon_gid() {
        assert_eq!("999:998".parse(), Ok(Owner { uid: 999, gid: 998 }));
        for bad in ["999", "root:root", "999:", ":999", "1:2:3", "-1:0", ""] {
            assert_eq!(
                bad.parse::<Owner>(),
                Err(OwnerError::NotUidGid { value: bad.into() }),
                "{bad}"
            );
        }
    }
}
