//! Creating, updating, restoring users and resetting their passwords (`POST` and `PATCH
//! …/users`): every field checked before anything changes; a password is checked for Azure
//! AD's complexity and then forgotten (never stored, logged or echoed); a user deleted less than
//! 30 days ago is restored with the licenses it held, where a seat is still free.

use chrono::Duration;
use uuid::Uuid;

use super::{Batch, EventKind, ModelError, Result, Subject, User, UserState, World, licenses::seats};

/// How long a deleted user can be restored (Partner Center: 30 days).
pub const RESTORE_DAYS: i64 = 30;

/// `POST …/users`: the fields of a new user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    pub user_principal_name: String,
    pub first_name: String,
    pub last_name: String,
    pub usage_location: String,
    /// Empty: none set (the tenant's admin sets one); else checked for complexity.
    pub password: String,
}

/// `PATCH …/users/{id}`: what may change (absent: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub user_principal_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub usage_location: Option<String>,
    /// A password reset.
    pub password: Option<String>,
    /// `active` on a deleted user restores it.
    pub state: Option<UserState>,
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::InvalidInput(msg.into())
}

/// A name part: present, printable, at most 64 characters.
fn check_name(field: &str, v: &str) -> Result<()> {
    let n = v.trim().chars().count();
    if n == 0 || n > 64 || v.chars().any(char::is_control) {
        return Err(invalid(format!("{field} must be 1 to 64 printable characters.")));
    }
    Ok(())
}

/// Azure AD's rule: 8 to 256 characters, three of lower case, upper case, digits and symbols.
fn check_password(p: &str) -> Result<()> {
    let n = p.chars().count();
    let classes = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if !(8..=256).contains(&n) || classes.iter().filter(|c| **c).count() < 3 {
        return Err(invalid(
            "The password does not meet the complexity requirements: 8 to 256 characters, with three of lower case, upper case, digits and symbols.",
        ));
    }
    Ok(())
}

fn check_location(v: &str) -> Result<()> {
    if v.len() != 2 || !v.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(invalid("usageLocation must be a two-letter country code (US)."));
    }
    Ok(())
}

impl World {
    /// A principal name `local@domain` on the customer's domain, not taken by another user.
    fn check_principal_name(&self, customer: Uuid, upn: &str, except: Option<Uuid>) -> Result<String> {
        let c = self.customers.get(&customer).ok_or(ModelError::CustomerNotFound(customer))?;
        let upn = upn.trim();
        let valid = upn.len() <= 113
            && upn.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.chars().all(|ch| ch.is_ascii_alphanumeric() || "._-'".contains(ch))
                    && domain.eq_ignore_ascii_case(&c.domain)
            });
        if !valid {
            return Err(invalid(format!(
                "userPrincipalName must be a name on the customer's domain (name@{}).",
                c.domain
            )));
        }
        let taken = c.users.values().any(|u| Some(u.id) != except && u.user_principal_name.eq_ignore_ascii_case(upn));
        if taken {
            return Err(ModelError::UserExists(upn.to_string()));
        }
        Ok(upn.to_string())
    }

    /// `POST /customers/{id}/users`.
    pub fn create_user(&mut self, batch: &Batch, partner: Uuid, customer: Uuid, new: &NewUser) -> Result<Uuid> {
        let country = self.customer_of(partner, customer)?.country.clone();
        let upn = self.check_principal_name(customer, &new.user_principal_name, None)?;
        check_name("firstName", &new.first_name)?;
        check_name("lastName", &new.last_name)?;
        let location = if new.usage_location.is_empty() { country } else { new.usage_location.to_ascii_uppercase() };
        check_location(&location)?;
        if !new.password.is_empty() {
            check_password(&new.password)?;
        }
        let id = self.ids.next_uuid();
        let user = User {
            id,
            user_principal_name: upn,
            first_name: new.first_name.trim().to_string(),
            last_name: new.last_name.trim().to_string(),
            usage_location: location,
            state: UserState::Active,
            licenses: Vec::new(),
            deleted_at: None,
            released: Vec::new(),
        };
        self.insert_user(batch, customer, user)?;
        Ok(id)
    }

    /// `PATCH /customers/{id}/users/{userId}`: names, location, principal name, a password
    /// reset, or (alone, on a deleted user) a restore.
    pub fn update_user(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        customer: Uuid,
        id: Uuid,
        changes: &UserChanges,
    ) -> Result<()> {
        let u = self.user_of(partner, customer, id)?.clone();
        if u.state == UserState::Inactive {
            if changes.state != Some(UserState::Active) {
                return Err(ModelError::UserInactive(id));
            }
            return self.restore_user(batch, customer, &u);
        }
        let upn = match &changes.user_principal_name {
            Some(n) if !n.eq_ignore_ascii_case(&u.user_principal_name) => {
                Some(self.check_principal_name(customer, n, Some(id))?)
            }
            _ => None,
        };
        for (field, v) in [("firstName", &changes.first_name), ("lastName", &changes.last_name)] {
            if let Some(v) = v {
                check_name(field, v)?;
            }
        }
        let location = changes.usage_location.as_ref().map(|l| l.to_ascii_uppercase());
        if let Some(l) = &location {
            check_location(l)?;
        }
        if let Some(p) = &changes.password {
            check_password(p)?;
        }
        let mut fields = Vec::new();
        let Some(stored) = self.tenant_mut(customer).and_then(|c| c.user_mut(id)) else {
            return Err(ModelError::UserNotFound(id));
        };
        let mut set = |field: &str, slot: &mut String, v: Option<String>| {
            if let Some(v) = v.filter(|v| v != slot) {
                *slot = v;
                fields.push(field.to_string());
            }
        };
        set("userPrincipalName", &mut stored.user_principal_name, upn);
        set("firstName", &mut stored.first_name, changes.first_name.as_ref().map(|v| v.trim().to_string()));
        set("lastName", &mut stored.last_name, changes.last_name.as_ref().map(|v| v.trim().to_string()));
        set("usageLocation", &mut stored.usage_location, location);
        if changes.password.is_some() {
            fields.push("password".to_string());
        }
        if !fields.is_empty() {
            let subject = Subject { customer: Some(customer), user: Some(id), ..Subject::default() };
            self.log(batch, subject, EventKind::UserUpdated { fields: fields.join(", ") });
        }
        Ok(())
    }

    /// Back within 30 days, with each license it held while a seat is free.
    fn restore_user(&mut self, batch: &Batch, customer: Uuid, u: &User) -> Result<()> {
        let deleted = u.deleted_at.unwrap_or(self.now);
        if self.now >= deleted + Duration::days(RESTORE_DAYS) {
            return Err(invalid(format!(
                "User {} was deleted more than {RESTORE_DAYS} days ago and can no longer be restored.",
                u.id
            )));
        }
        let c = self.customers.get(&customer).ok_or(ModelError::CustomerNotFound(customer))?;
        let taken = c.users.values().any(|o| {
            o.id != u.id
                && o.state == UserState::Active
                && o.user_principal_name.eq_ignore_ascii_case(&u.user_principal_name)
        });
        if taken {
            return Err(ModelError::UserExists(u.user_principal_name.clone()));
        }
        if let Some(stored) = self.tenant_mut(customer).and_then(|c| c.user_mut(u.id)) {
            stored.state = UserState::Active;
            stored.deleted_at = None;
            stored.released = Vec::new();
        }
        let subject = Subject { customer: Some(customer), user: Some(u.id), ..Subject::default() };
        self.log(batch, subject, EventKind::UserRestored);
        for sku in &u.released {
            let free = self.customers.get(&customer).is_some_and(|c| c.consumed_units(*sku) < seats(c, *sku).0);
            if free {
                self.grant(batch, customer, u.id, *sku);
            }
        }
        Ok(())
    }
}
