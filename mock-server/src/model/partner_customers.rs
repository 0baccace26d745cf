//! Each partner's customers in the order `GET /customers` pages through, so a page and a
//! continuation token's place are found by position instead of by walking every customer of
//! every partner (at 100,000 customers that walk was a page's whole cost).
//!
//! Derived: built as customers are added and relationships accepted, rebuilt on restore, and
//! persistent, so a write's checkpoint copies two pointers.

use uuid::Uuid;

use super::tenants::Customer;

#[derive(Debug, Clone, Default)]
pub(crate) struct PartnerCustomers {
    /// Each customer's place in the world's customer order (customers are only ever added at
    /// its end, and never leave it).
    place: imbl::OrdMap<Uuid, usize>,
    /// Each partner's customers, in that order.
    by_partner: imbl::OrdMap<Uuid, imbl::Vector<Uuid>>,
}

impl PartnerCustomers {
    /// From the world's customers in order (a restored snapshot).
    pub(crate) fn of<'a>(customers: impl Iterator<Item = &'a Customer>) -> Self {
        let mut index = PartnerCustomers::default();
        for c in customers {
            index.added(c.id, &c.resellers);
        }
        index
    }

    /// A customer added last to the world's order, with its resellers.
    pub(crate) fn added(&mut self, customer: Uuid, resellers: &[Uuid]) {
        if self.place.contains_key(&customer) {
            return;
        }
        self.place.insert(customer, self.place.len());
        for partner in resellers {
            self.joined(customer, *partner);
        }
    }

    /// An existing customer became `partner`'s: it takes its place in the partner's list.
    pub(crate) fn joined(&mut self, customer: Uuid, partner: Uuid) {
        let at = self.slot(partner, customer);
        let mut list = self.by_partner.get(&partner).cloned().unwrap_or_default();
        if list.get(at) != Some(&customer) {
            list.insert(at, customer);
            self.by_partner.insert(partner, list);
        }
    }

    /// How many customers `partner` has.
    pub(crate) fn count(&self, partner: Uuid) -> usize {
        self.by_partner.get(&partner).map_or(0, imbl::Vector::len)
    }

    /// `partner`'s customers from position `offset`, at most `size` of them.
    pub(crate) fn page(&self, partner: Uuid, offset: usize, size: usize) -> impl Iterator<Item = Uuid> + '_ {
        let list = self.by_partner.get(&partner);
        let end = offset.saturating_add(size).min(self.count(partner));
        (offset.min(end)..end).filter_map(move |i| list.and_then(|l| l.get(i)).copied())
    }

    /// Where `customer` is in `partner`'s list, if it is there.
    pub(crate) fn position(&self, partner: Uuid, customer: Uuid) -> Option<usize> {
        let at = self.slot(partner, customer);
        let list = self.by_partner.get(&partner)?;
        (list.get(at) == Some(&customer)).then_some(at)
    }

    /// The first position in `partner`'s list whose customer comes at or after `customer` in
    /// the world's order (a binary search by place).
    fn slot(&self, partner: Uuid, customer: Uuid) -> usize {
        let Some(list) = self.by_partner.get(&partner) else { return 0 };
        let place = |id: &Uuid| self.place.get(id).copied().unwrap_or(usize::MAX);
        let target = place(&customer);
        let (mut lo, mut hi) = (0, list.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if list.get(mid).map_or(usize::MAX, place) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn a_partners_list_keeps_the_worlds_order_whenever_customers_join() {
        let (a, b) = (id(100), id(200));
        let mut index = PartnerCustomers::default();
        // Ids deliberately out of numeric order: the place is the order added, not the id.
        for (n, resellers) in [(5, vec![a]), (3, vec![]), (9, vec![a, b]), (1, vec![]), (7, vec![a])] {
            index.added(id(n), &resellers);
        }
        index.joined(id(1), a);
        index.joined(id(3), a);
        index.joined(id(3), a);
        let mine: Vec<Uuid> = index.page(a, 0, 10).collect();
        assert_eq!(mine, [5, 3, 9, 1, 7].map(id));
        assert_eq!(index.count(b), 1);
        assert_eq!(index.page(a, 3, 10).collect::<Vec<_>>(), [1, 7].map(id));
        assert_eq!(index.page(a, 1, 2).collect::<Vec<_>>(), [3, 9].map(id));
        assert_eq!(index.page(a, 9, 2).count(), 0);
        assert_eq!(index.position(a, id(9)), Some(2));
        assert_eq!(index.position(b, id(5)), None);
        assert_eq!(index.position(id(300), id(5)), None);
    }
}
