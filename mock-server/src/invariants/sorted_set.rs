//! The judge's small per-user sets: a user holds one or two SKUs and families, so a sorted
//! vector of 16 to 32 bytes, where a `BTreeSet` allocates a node of some two hundred.

use serde::{Deserialize, Serialize};

/// A small set as a sorted vector; on the wire, the same list a `BTreeSet` gives.
/// Read through `From<Vec<T>>`: a hand-edited snapshot's list is sorted and deduplicated, as
/// a `BTreeSet` would have made it, so `binary_search` stays right.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "Vec<T>")]
pub(super) struct SortedSet<T: Ord>(Vec<T>);

impl<T: Ord + Serialize> Serialize for SortedSet<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<T: Ord> From<Vec<T>> for SortedSet<T> {
    fn from(items: Vec<T>) -> Self {
        items.into_iter().collect()
    }
}

impl<T: Ord> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet(Vec::new())
    }
}

impl<T: Ord> SortedSet<T> {
    /// Whether `item` was new.
    pub(super) fn insert(&mut self, item: T) -> bool {
        match self.0.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, item);
                true
            }
        }
    }

    /// Whether `item` was there.
    pub(super) fn remove(&mut self, item: &T) -> bool {
        match self.0.binary_search(item) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    pub(super) fn contains(&self, item: &T) -> bool {
        self.0.binary_search(item).is_ok()
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// The items of `self` not in `other`.
    pub(super) fn difference<'a>(&'a self, other: &'a Self) -> impl Iterator<Item = &'a T> {
        self.0.iter().filter(|item| !other.contains(item))
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut v: Vec<T> = items.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        SortedSet(v)
    }
}

#[cfg(test)]
mod tests {
    use super::SortedSet;

    /// A snapshot edited by hand may list a set out of order or twice; read back, it must be
    /// the set a `BTreeSet` would have made, or `contains` answers wrongly.
    #[test]
    fn an_unsorted_list_reads_as_a_set() -> serde_json::Result<()> {
        let set: SortedSet<u32> = serde_json::from_str("[5, 1, 5, 3]")?;
        assert_eq!(serde_json::to_string(&set)?, "[1,3,5]");
        assert!(set.contains(&1) && set.contains(&3) && !set.contains(&2));
        Ok(())
    }
}
