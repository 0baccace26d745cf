//! A user's, a license's and a subscribed SKU's JSON written straight from the model, and the
//! collections that carry them. A discovery reads every user's page and every user's licenses,
//! and a `serde_json::Value` of each cost every key allocated and hashed into a map before a
//! byte was written.
//!
//! The field order is the wire's contract (snapshots pin it), the one `wire`'s `Value`s had:
//! a seek page's `links.next` after `links.self`, its `continuationToken` last.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use uuid::Uuid;

use super::subscription_shape::{Link, Pairs};
use super::wire::date;
use crate::model::{Customer, SubscribedSku, User, UserState, World};

/// `User` as Partner Center renders it (`softDeletionTime` only once deleted).
pub struct UserShape<'a> {
    pub customer: Uuid,
    pub user: &'a User,
}

impl Serialize for UserShape<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("id", &u.id)?;
        m.serialize_entry("userPrincipalName", &u.user_principal_name)?;
        m.serialize_entry("firstName", &u.first_name)?;
        m.serialize_entry("lastName", &u.last_name)?;
        m.serialize_entry("displayName", &u.display_name())?;
        m.serialize_entry("usageLocation", &u.usage_location)?;
        m.serialize_entry("userDomainType", "none")?;
        let (state, inactive) = match u.state {
            UserState::Active => ("active", false),
            UserState::Inactive => ("inactive", true),
        };
        m.serialize_entry("state", state)?;
        m.serialize_entry("links", &SelfLink(&format!("/customers/{}/users/{}", self.customer, u.id)))?;
        m.serialize_entry("attributes", &Pairs(&[("objectType", "CustomerUser")]))?;
        if inactive {
            m.serialize_entry("softDeletionTime", &u.deleted_at.map(date))?;
        }
        m.end()
    }
}

/// One of a user's licenses: its service plan reads "Assigned" (as the docs show) while the
/// license is effective, else "Suspended".
pub struct LicenseShape<'a> {
    pub world: &'a World,
    pub customer: &'a Customer,
    pub sku: Uuid,
}

impl Serialize for LicenseShape<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let effective = self.world.license_is_effective(self.customer, self.sku);
        let status = if effective { "Assigned" } else { "Suspended" };
        let mut m = ser.serialize_map(Some(3))?;
        m.serialize_entry("servicePlans", &[ServicePlan { world: self.world, sku: self.sku, status }])?;
        m.serialize_entry("productSku", &ProductSku { world: self.world, sku: self.sku })?;
        m.serialize_entry("attributes", &Pairs(&[("objectType", "License")]))?;
        m.end()
    }
}

/// A customer's seats of one SKU.
pub struct SubscribedSkuShape<'a> {
    pub world: &'a World,
    pub sku: &'a SubscribedSku,
}

impl Serialize for SubscribedSkuShape<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let (sk, status) = (self.sku, self.sku.capability_status());
        let mut m = ser.serialize_map(Some(10))?;
        m.serialize_entry("availableUnits", &sk.available_units())?;
        m.serialize_entry("activeUnits", &sk.active_units)?;
        m.serialize_entry("consumedUnits", &sk.consumed_units)?;
        m.serialize_entry("suspendedUnits", &sk.suspended_units)?;
        m.serialize_entry("totalUnits", &sk.total_units())?;
        m.serialize_entry("warningUnits", &sk.warning_units)?;
        m.serialize_entry("productSku", &ProductSku { world: self.world, sku: sk.sku_id })?;
        m.serialize_entry("servicePlans", &[ServicePlan { world: self.world, sku: sk.sku_id, status }])?;
        m.serialize_entry("capabilityStatus", status)?;
        m.serialize_entry("attributes", &Pairs(&[("objectType", "SubscribedSku")]))?;
        m.end()
    }
}

struct ProductSku<'a> {
    world: &'a World,
    sku: Uuid,
}

impl Serialize for ProductSku<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let offer = self.world.catalog.by_sku(self.sku);
        let mut m = ser.serialize_map(Some(5))?;
        m.serialize_entry("id", &self.sku)?;
        m.serialize_entry("name", offer.map_or("", |o| o.name.as_str()))?;
        m.serialize_entry("skuPartNumber", offer.map_or("", |o| o.sku_part_number.as_str()))?;
        m.serialize_entry("targetType", "User")?;
        m.serialize_entry("licenseGroupId", "group1")?;
        m.end()
    }
}

/// The one service plan each SKU carries; its id is derived from the SKU's (no hashing on the
/// hot path of license reads).
struct ServicePlan<'a> {
    world: &'a World,
    sku: Uuid,
    status: &'a str,
}

impl Serialize for ServicePlan<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let offer = self.world.catalog.by_sku(self.sku);
        let plan_id = Uuid::from_u128(self.sku.as_u128() ^ 0x5e41_1ce0_0000_0000_0000_0000_0000_0001);
        let mut m = ser.serialize_map(Some(5))?;
        m.serialize_entry("displayName", offer.map_or("", |o| o.name.as_str()))?;
        m.serialize_entry("serviceName", offer.map_or("", |o| o.sku_part_number.as_str()))?;
        m.serialize_entry("id", &plan_id)?;
        m.serialize_entry("capabilityStatus", self.status)?;
        m.serialize_entry("targetType", "User")?;
        m.end()
    }
}

/// A collection of shapes (`wire::collection`'s), or with `next` a seek page
/// (`wire::seek_page`'s): the next page's URI and its continuation token.
pub struct Collection<T> {
    pub items: Vec<T>,
    pub self_uri: String,
    pub next: Option<(String, String)>,
}

impl<T: Serialize> Serialize for Collection<T> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("totalCount", &self.items.len())?;
        m.serialize_entry("items", &Items(&self.items))?;
        m.serialize_entry("links", &PageLinks { self_uri: &self.self_uri, next: self.next.as_ref() })?;
        m.serialize_entry("attributes", &Pairs(&[("objectType", "Collection")]))?;
        if let Some((_, token)) = &self.next {
            m.serialize_entry("continuationToken", token)?;
        }
        m.end()
    }
}

struct Items<'a, T>(&'a [T]);

impl<T: Serialize> Serialize for Items<'_, T> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

/// `{"self": link}`.
struct SelfLink<'a>(&'a str);

impl Serialize for SelfLink<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        PageLinks { self_uri: self.0, next: None }.serialize(ser)
    }
}

/// A page's links: itself, and the next page carrying its token as a header.
struct PageLinks<'a> {
    self_uri: &'a str,
    next: Option<&'a (String, String)>,
}

impl Serialize for PageLinks<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("self", &Link(self.self_uri))?;
        if let Some((uri, token)) = self.next {
            m.serialize_entry("next", &NextLink { uri, token })?;
        }
        m.end()
    }
}

struct NextLink<'a> {
    uri: &'a str,
    token: &'a str,
}

impl Serialize for NextLink<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(3))?;
        m.serialize_entry("uri", self.uri)?;
        m.serialize_entry("method", "GET")?;
        m.serialize_entry("headers", &[Pairs(&[("key", "MS-ContinuationToken"), ("value", self.token)])])?;
        m.end()
    }
}

/// `licenseupdates`' answer: the SKUs assigned (each with the plans its request excluded) and,
/// if any, those removed.
pub struct LicenseUpdateShape<'a> {
    pub assigned: &'a [(Uuid, Option<&'a [String]>)],
    pub removed: &'a [Uuid],
}

impl Serialize for LicenseUpdateShape<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("licensesToAssign", &Assigned(self.assigned))?;
        m.serialize_entry("licenseWarnings", &[(); 0])?;
        m.serialize_entry("attributes", &Pairs(&[("objectType", "LicenseUpdate")]))?;
        if !self.removed.is_empty() {
            m.serialize_entry("licensesToRemove", self.removed)?;
        }
        m.end()
    }
}

struct Assigned<'a>(&'a [(Uuid, Option<&'a [String]>)]);

impl Serialize for Assigned<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.0.len()))?;
        for (sku, plans) in self.0 {
            seq.serialize_element(&AssignedSku(*sku, *plans))?;
        }
        seq.end()
    }
}

struct AssignedSku<'a>(Uuid, Option<&'a [String]>);

impl Serialize for AssignedSku<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(2))?;
        m.serialize_entry("skuId", &self.0)?;
        m.serialize_entry("excludedPlans", &self.1)?;
        m.end()
    }
}
