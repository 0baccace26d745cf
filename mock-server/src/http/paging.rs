//! Continuation tokens: opaque to clients, refused when forged or sent to another list, and
//! resuming after the last item a page showed (so an insert or a deletion between pages
//! neither repeats nor skips an item that stayed).
//!
//! A token seals `(offset, last item id)` under a key from the world's seed and the list's
//! kind: the same scenario and seed give the same tokens (replays stay byte-identical), and a
//! token of one list never opens another. The key keeps tokens opaque, not secret.

use uuid::Uuid;

/// Where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Items shown so far: where to resume if the last one is gone.
    pub offset: usize,
    /// The last item shown.
    pub after: Uuid,
}

impl Cursor {
    /// The index of the first item of the next page in `ids` (the list as it is now).
    pub fn resume(&self, ids: impl Iterator<Item = Uuid>) -> usize {
        self.resume_among(ids.map(|id| (id, true)))
    }

    /// The same over a list that keeps hidden items in place (soft-deleted users): `items` is
    /// every item in order with whether the list shows it, so a cursor whose own item was
    /// hidden since still resumes right after it.
    pub fn resume_among(&self, items: impl Iterator<Item = (Uuid, bool)>) -> usize {
        let mut shown = 0;
        for (id, visible) in items {
            shown += usize::from(visible);
            if id == self.after {
                return shown;
            }
        }
        self.offset
    }
}

const PAYLOAD: usize = 24;
const TAG: usize = 8;

/// The token for `cursor` on list `kind` of a world with `seed`.
pub fn seal(seed: u64, kind: &str, cursor: &Cursor) -> String {
    let mut payload = [0u8; PAYLOAD];
    payload[..8].copy_from_slice(&u64::try_from(cursor.offset).unwrap_or(u64::MAX).to_le_bytes());
    payload[8..].copy_from_slice(cursor.after.as_bytes());
    let key = key(seed, kind);
    let tag = tag(key, &payload);
    mask(key, &mut payload);
    payload.iter().chain(tag.to_le_bytes().iter()).map(|b| format!("{b:02x}")).collect()
}

/// The cursor inside a token, if it was sealed for this list of this world.
pub fn open(seed: u64, kind: &str, token: &str) -> Option<Cursor> {
    if token.len() != 2 * (PAYLOAD + TAG) || !token.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; PAYLOAD + TAG];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(token.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    let key = key(seed, kind);
    let mut payload = [0u8; PAYLOAD];
    payload.copy_from_slice(&bytes[..PAYLOAD]);
    mask(key, &mut payload);
    let mut sent = [0u8; TAG];
    sent.copy_from_slice(&bytes[PAYLOAD..]);
    if tag(key, &payload) != u64::from_le_bytes(sent) {
        return None;
    }
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&payload[..8]);
    let after = Uuid::from_slice(&payload[8..]).ok()?;
    Some(Cursor { offset: usize::try_from(u64::from_le_bytes(offset)).ok()?, after })
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn key(seed: u64, kind: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.rotate_left(17);
    for b in kind.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix(&mut h)
}

fn mask(key: u64, payload: &mut [u8; PAYLOAD]) {
    let mut state = key;
    for chunk in payload.chunks_mut(8) {
        let stream = splitmix(&mut state).to_le_bytes();
        for (b, s) in chunk.iter_mut().zip(stream) {
            *b ^= s;
        }
    }
}

fn tag(key: u64, payload: &[u8; PAYLOAD]) -> u64 {
    let mut state = key ^ 0x7a6;
    let mut acc = splitmix(&mut state);
    for chunk in payload.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        acc ^= u64::from_le_bytes(word);
        acc = splitmix(&mut acc);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_on_its_own_list_and_resumes_after_its_item() {
        let after = Uuid::from_u128(0x1234);
        let c = Cursor { offset: 2, after };
        let t = seal(7, "customers", &c);
        assert_eq!(open(7, "customers", &t), Some(c));
        assert_eq!(open(7, "users.x", &t), None);
        assert_eq!(open(8, "customers", &t), None);
        assert!(!t.contains("1234"), "opaque: {t}");
        let mut forged = t.clone().into_bytes();
        forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(open(7, "customers", &String::from_utf8_lossy(&forged)), None);
        // An item inserted before the cursor does not repeat the cursor's item.
        let ids = [Uuid::from_u128(9), Uuid::from_u128(1), after, Uuid::from_u128(5)];
        assert_eq!(c.resume(ids.into_iter()), 3);
        // The cursor's item gone without a trace: resume at the offset.
        assert_eq!(c.resume([Uuid::from_u128(1), Uuid::from_u128(5)].into_iter()), 2);
        // The cursor's item hidden (soft-deleted) since: resume right after it.
        let listed =
            [(Uuid::from_u128(1), true), (Uuid::from_u128(2), true), (after, false), (Uuid::from_u128(5), true)];
        assert_eq!(c.resume_among(listed.into_iter()), 2);
    }
}
