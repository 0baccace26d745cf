//! Deterministic identifiers: the same seed and the same sequence of calls yield the same ids.
//!
//! The model never draws randomness of its own; ids come from a counter mixed with the seed
//! (splitmix64), so a scenario replayed with the same seed gives byte-identical responses.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace for name-based ids of built-in catalog entries (offers, SKUs), so they never
/// depend on a seed and a client can hard-code them.
pub const CATALOG_NAMESPACE: Uuid = Uuid::from_u128(0x5c0b_5a1a_2017_4d36_9a1e_0e5d_ca7a_1090);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdSource {
    seed: u64,
    /// How many ids have been handed out; part of the state so a restored snapshot continues
    /// the same sequence.
    issued: u64,
}

/// One step of splitmix64: the model's only source of pseudo-randomness (ids, fault draws).
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl IdSource {
    pub fn new(seed: u64) -> Self {
        Self { seed, issued: 0 }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A fresh GUID shaped like a version-4 UUID.
    pub fn next_uuid(&mut self) -> Uuid {
        self.issued += 1;
        let hi = splitmix64(self.seed ^ splitmix64(self.issued.wrapping_mul(2)));
        let lo = splitmix64(self.seed ^ splitmix64(self.issued.wrapping_mul(2) + 1));
        let bytes = ((u128::from(hi)) << 64 | u128::from(lo)).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// Two draws of the sequence (once a token's; tokens are random now, but the draws keep
    /// every later id where scenarios and snapshots expect it).
    pub fn next_token(&mut self) -> String {
        let a = self.next_uuid().simple().to_string();
        let b = self.next_uuid().simple().to_string();
        format!("pcmock.{a}{b}")
    }
}

/// A name-based id for built-in data (offers, SKUs, service plans).
pub fn named(name: &str) -> Uuid {
    Uuid::new_v5(&CATALOG_NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ids_and_different_seed_differs() {
        let mut a = IdSource::new(7);
        let mut b = IdSource::new(7);
        let mut c = IdSource::new(8);
        let xs: Vec<_> = (0..5).map(|_| a.next_uuid()).collect();
        let ys: Vec<_> = (0..5).map(|_| b.next_uuid()).collect();
        let zs: Vec<_> = (0..5).map(|_| c.next_uuid()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        assert_eq!(xs[0].get_version_num(), 4);
    }
}
