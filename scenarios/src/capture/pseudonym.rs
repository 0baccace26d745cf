//! Stable pseudonyms from a keyed hash (HMAC-SHA256): the same key gives the same pseudonym
//! for the same original, so two captures can be compared and every relation between records
//! survives, while nothing of the original name, domain or id is left. The key stays on the
//! partner's machine (`--key-file`), never in the capture.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("cannot create the key file {0}: {1}")]
    Write(String, std::io::Error),
    #[error("the key file {0} does not hold a key (64 hexadecimal digits)")]
    Malformed(String),
    #[error("no randomness to make a key: {0}")]
    Random(String),
}

/// The pseudonymiser: a 32-byte key.
#[derive(Clone)]
pub struct Pseudonyms {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms(key hidden)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Pseudonyms {
    pub fn new(key: [u8; 32]) -> Self {
        Pseudonyms { key }
    }

    /// The key in `path`, or a new random one written there (readable by its owner only).
    pub fn from_key_file(path: &Path) -> Result<(Self, bool), KeyError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = text.trim();
                let mut key = [0u8; 32];
                if text.len() != 64 || !text.is_ascii() {
                    return Err(KeyError::Malformed(shown));
                }
                for (i, byte) in key.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                        .map_err(|_| KeyError::Malformed(shown.clone()))?;
                }
                Ok((Pseudonyms { key }, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(|e| KeyError::Write(shown.clone(), e))?;
                writeln!(file, "{}", hex(&key)).map_err(|e| KeyError::Write(shown, e))?;
                Ok((Pseudonyms { key }, true))
            }
            Err(e) => Err(KeyError::Read(shown, e)),
        }
    }

    fn mac(&self, kind: &str, value: &str) -> [u8; 32] {
        // A key of any length is accepted by HMAC; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn tag(&self, kind: &str, value: &str, len: usize) -> String {
        hex(&self.mac(kind, &value.to_lowercase()))[..len].to_string()
    }

    /// A tenant, user, subscription or order id.
    pub fn id(&self, id: Uuid) -> Uuid {
        let mac = self.mac("id", &id.to_string());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&mac[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    pub fn company(&self, name: &str) -> String {
        format!("Company {}", self.tag("company", name, 8))
    }

    /// A domain under `.example` (reserved: it can never be a real tenant's).
    pub fn domain(&self, domain: &str) -> String {
        format!("t{}.onmicrosoft.example", self.tag("domain", domain, 12))
    }

    /// A person's first and last names and principal name (at the pseudonymised domain).
    pub fn person(&self, upn: &str, domain: &str) -> (String, String, String) {
        let tag = self.tag("user", upn, 10);
        ("User".to_string(), tag.clone(), format!("u{tag}@{domain}"))
    }

    /// A short fingerprint of the key (to tell keys apart without showing them).
    pub fn fingerprint(&self) -> String {
        self.tag("fingerprint", "", 12)
    }
}
