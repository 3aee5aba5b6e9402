//! Customer profiles, for the platforms that keep them (shop and pos): the
//! same rules on both, each platform with its own id prefix and event names
//! (`customers/create` / `customers/update` on the shop, as Shopify names
//! them; `customer.created` / `customer.updated` on the POS, as Square does).
//!
//! [`CustomerBook`] validates first and mutates after: a name of at most
//! 255 characters, at least one of email and phone, a well-formed email
//! unique on the platform (case-insensitively, 409 `email_taken` naming
//! `email`), an E.164-ish phone. On the shop a phone is unique too (409
//! `phone_taken` naming `phone`, its digits compared), as on Shopify; on the
//! POS it is not, as on Square (a household may share one). Who made a
//! change is the event's `actor`, recorded by the commit like every other
//! write.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use chrono::{DateTime, Utc};
use omnisim_api::ErrorBody;
use omnisim_api::customer::{
    CreateCustomer, Customer, CustomerFilter, CustomerList, NAME_LEN_MAX, UpdateCustomer,
    email_problem, normalize_email, normalize_phone, phone_problem,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::{Platform, Simulator};
use crate::error::{SimError, SimResult};
use crate::events::Effects;
use crate::extract::{Json, Query};

/// The most profiles one platform keeps.
pub const CUSTOMERS_MAX: usize = 100_000;

/// The profiles of one platform, by id.
#[derive(Clone, Debug)]
pub struct CustomerBook {
    prefix: &'static str,
    /// No two profiles share a phone (the shop; not the POS).
    unique_phone: bool,
    created: &'static str,
    updated: &'static str,
    by_id: BTreeMap<String, Customer>,
    next: u64,
}

impl CustomerBook {
    /// An empty book whose ids read `<prefix>_000001` and whose events are
    /// `created` and `updated`.
    pub fn new(prefix: &'static str, created: &'static str, updated: &'static str) -> Self {
        CustomerBook {
            prefix,
            unique_phone: false,
            created,
            updated,
            by_id: BTreeMap::new(),
            next: 0,
        }
    }

    /// The same book where no two profiles share a phone (on their digits).
    pub fn with_unique_phones(mut self) -> Self {
        self.unique_phone = true;
        self
    }

    fn check_name(name: &str) -> SimResult<()> {
        if name.chars().count() > NAME_LEN_MAX {
            return Err(SimError::bad_value(
                "name",
                format!("`name` is at most {NAME_LEN_MAX} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(SimError::bad_value(
                "name",
                "`name` may not hold control characters",
            ));
        }
        Ok(())
    }

    /// `None` for an absent or empty value; an error for a malformed one.
    fn clean(
        field: &'static str,
        value: Option<&str>,
        problem: fn(&str) -> Option<String>,
    ) -> SimResult<Option<String>> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => match problem(v) {
                Some(p) => Err(SimError::bad_value(field, p)),
                None => Ok(Some(v.to_owned())),
            },
        }
    }

    fn check_reachable(email: &Option<String>, phone: &Option<String>) -> SimResult<()> {
        if email.is_none() && phone.is_none() {
            return Err(SimError::bad_value(
                "email",
                "a customer needs an email or a phone",
            ));
        }
        Ok(())
    }

    fn check_unique(
        &self,
        email: Option<&str>,
        phone: Option<&str>,
        except: Option<&str>,
    ) -> SimResult<()> {
        if let Some(phone) = phone.filter(|_| self.unique_phone) {
            let wanted = normalize_phone(phone);
            if let Some(c) = self.by_id.values().find(|c| {
                Some(c.id.as_str()) != except
                    && c.phone.as_deref().map(normalize_phone).as_deref() == Some(wanted.as_str())
            }) {
                return Err(SimError::conflict(
                    "phone_taken",
                    format!("`{phone}` is the phone of customer `{}`", c.id),
                )
                .field("phone"));
            }
        }
        let Some(email) = email else {
            return Ok(());
        };
        let wanted = normalize_email(email);
        let taken = self.by_id.values().find(|c| {
            Some(c.id.as_str()) != except
                && c.email.as_deref().map(normalize_email).as_deref() == Some(wanted.as_str())
        });
        match taken {
            Some(c) => Err(SimError::conflict(
                "email_taken",
                format!("`{email}` is the email of customer `{}`", c.id),
            )
            .field("email")),
            None => Ok(()),
        }
    }

    /// `POST /v1/customers`: emits the platform's created event.
    pub fn create(&mut self, fx: &mut Effects, req: CreateCustomer) -> SimResult<Customer> {
        Self::check_name(&req.name)?;
        let email = Self::clean("email", req.email.as_deref(), email_problem)?;
        let phone = Self::clean("phone", req.phone.as_deref(), phone_problem)?;
        Self::check_reachable(&email, &phone)?;
        self.check_unique(email.as_deref(), phone.as_deref(), None)?;
        if self.by_id.len() >= CUSTOMERS_MAX {
            return Err(SimError::invalid(
                "too_many_customers",
                format!("a platform keeps at most {CUSTOMERS_MAX} customers"),
            ));
        }
        self.next += 1;
        let now = fx.now();
        let customer = Customer {
            id: format!("{}_{:06}", self.prefix, self.next),
            name: req.name.trim().to_owned(),
            email,
            phone,
            accepts_marketing: req.accepts_marketing,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.by_id.insert(customer.id.clone(), customer.clone());
        fx.emit(self.created, &customer);
        Ok(customer)
    }

    /// `PATCH /v1/customers/{id}`: emits the platform's updated event when
    /// something changed.
    pub fn update(
        &mut self,
        fx: &mut Effects,
        id: &str,
        req: UpdateCustomer,
    ) -> SimResult<Customer> {
        let old = self.get(id)?;
        let mut new = old.clone();
        if let Some(name) = &req.name {
            Self::check_name(name)?;
            new.name = name.trim().to_owned();
        }
        if let Some(email) = &req.email {
            new.email = Self::clean("email", Some(email), email_problem)?;
        }
        if let Some(phone) = &req.phone {
            new.phone = Self::clean("phone", Some(phone), phone_problem)?;
        }
        if let Some(consent) = req.accepts_marketing {
            new.accepts_marketing = consent;
        }
        Self::check_reachable(&new.email, &new.phone)?;
        self.check_unique(new.email.as_deref(), new.phone.as_deref(), Some(id))?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = fx.now();
        new.version += 1;
        self.by_id.insert(new.id.clone(), new.clone());
        fx.emit(self.updated, &new);
        Ok(new)
    }

    /// `GET /v1/customers/{id}`.
    pub fn get(&self, id: &str) -> SimResult<Customer> {
        self.by_id
            .get(id)
            .cloned()
            .ok_or_else(|| SimError::not_found("unknown_customer", format!("no customer `{id}`")))
    }

    /// `GET /v1/customers`: the profiles the filter keeps, by id.
    pub fn list(&self, filter: &CustomerFilter) -> SimResult<Vec<Customer>> {
        if let Some(p) = filter.phone.as_deref().and_then(phone_problem) {
            return Err(SimError::bad_value("phone", p));
        }
        let email = filter.email.as_deref().map(normalize_email);
        let phone = filter.phone.as_deref().map(normalize_phone);
        Ok(self
            .by_id
            .values()
            .filter(|c| {
                email
                    .as_ref()
                    .is_none_or(|e| c.email.as_deref().map(normalize_email).as_ref() == Some(e))
            })
            .filter(|c| {
                phone
                    .as_ref()
                    .is_none_or(|p| c.phone.as_deref().map(normalize_phone).as_ref() == Some(p))
            })
            .filter(|c| filter.updated_since.is_none_or(|t| c.updated_at >= t))
            .cloned()
            .collect())
    }

    /// Every profile, by id.
    pub fn all(&self) -> Vec<Customer> {
        self.by_id.values().cloned().collect()
    }

    /// What is wrong with the book, if anything: emails unique (and phones,
    /// where they must be), every profile reachable.
    pub fn invariant_violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut emails: BTreeMap<String, &str> = BTreeMap::new();
        let mut phones: BTreeMap<String, &str> = BTreeMap::new();
        for c in self.by_id.values() {
            if let Some(p) = c.phone.as_ref().filter(|_| self.unique_phone)
                && let Some(first) = phones.insert(normalize_phone(p), &c.id)
            {
                out.push(format!("customers {first} and {} share phone {p}", c.id));
            }
            if c.email.is_none() && c.phone.is_none() {
                out.push(format!("customer {} has neither email nor phone", c.id));
            }
            if let Some(e) = &c.email
                && let Some(first) = emails.insert(normalize_email(e), &c.id)
            {
                out.push(format!("customers {first} and {} share email {e}", c.id));
            }
        }
        out
    }
}

/// The `updated_since` query value, RFC 3339.
pub fn parse_since(value: Option<&str>) -> SimResult<Option<DateTime<Utc>>> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    SimError::bad_value(
                        "updated_since",
                        format!("`{v}` is not an RFC 3339 time like `2026-03-02T10:00:00Z`"),
                    )
                })
        })
        .transpose()
}

// ------------------------------------------------------------------ routes

/// A platform whose state keeps a [`CustomerBook`] (the shop and the POS).
pub trait KeepsCustomers {
    /// The profiles.
    fn customers(&self) -> &CustomerBook;
    /// The profiles, to change.
    fn customers_mut(&mut self) -> &mut CustomerBook;
}

/// What the customer routes reach: a simulator that keeps profiles, behind
/// a trait so that one set of handlers serves the shop and the POS alike.
pub trait CustomerDesk: Send + Sync {
    /// Makes a profile.
    fn create(&self, req: CreateCustomer) -> SimResult<Customer>;
    /// The profiles the filter keeps, by id.
    fn list(&self, filter: &CustomerFilter) -> SimResult<Vec<Customer>>;
    /// One profile.
    fn get(&self, id: &str) -> SimResult<Customer>;
    /// Changes the fields given.
    fn update(&self, id: &str, req: UpdateCustomer) -> SimResult<Customer>;
}

impl<S: Platform + KeepsCustomers> CustomerDesk for Simulator<S> {
    fn create(&self, req: CreateCustomer) -> SimResult<Customer> {
        self.commit(|s, fx| s.customers_mut().create(fx, req))
    }
    fn list(&self, filter: &CustomerFilter) -> SimResult<Vec<Customer>> {
        self.read(|s| s.customers().list(filter))
    }
    fn get(&self, id: &str) -> SimResult<Customer> {
        self.read(|s| s.customers().get(id))
    }
    fn update(&self, id: &str, req: UpdateCustomer) -> SimResult<Customer> {
        self.commit(|s, fx| s.customers_mut().update(fx, id, req))
    }
}

/// The state of the customer routes; each platform's router state gives it
/// through `FromRef`.
pub type Desk = Arc<dyn CustomerDesk>;

/// The four customer routes, for a platform's own router.
pub(crate) fn routes<C>() -> OpenApiRouter<C>
where
    C: Clone + Send + Sync + 'static,
    Desk: FromRef<C>,
{
    OpenApiRouter::new()
        .routes(routes!(create_customer, list_customers))
        .routes(routes!(get_customer, update_customer))
}

/// The filters of the customer listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CustomerQuery {
    /// Only profiles with this email (case-insensitively, trimmed).
    #[serde(default)]
    email: Option<String>,
    /// Only profiles with this phone (its digits).
    #[serde(default)]
    phone: Option<String>,
    /// Only profiles changed at or after this time (RFC 3339).
    #[serde(default)]
    updated_since: Option<String>,
}

/// `POST /v1/customers`: a new customer profile (emits `customers/create` on
/// the shop, `customer.created` on the POS).
#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CreateCustomer,
    responses((status = 200, body = Customer),
        (status = 400, description = "Malformed JSON or an unknown field", body = ErrorBody),
        (status = 409, description = "`email_taken`: another profile has this email", body = ErrorBody),
        (status = 422, description = "A bad email or phone, a name too long, neither email nor phone", body = ErrorBody)))]
async fn create_customer(
    State(desk): State<Desk>,
    Json(req): Json<CreateCustomer>,
) -> SimResult<axum::Json<Customer>> {
    desk.create(req).map(axum::Json)
}

/// `GET /v1/customers?email=&phone=&updated_since=`: the profiles, by id;
/// each filter given narrows the list.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(CustomerQuery),
    responses((status = 200, body = CustomerList),
        (status = 400, description = "An unknown filter", body = ErrorBody),
        (status = 422, description = "A bad phone or `updated_since`", body = ErrorBody)))]
async fn list_customers(
    State(desk): State<Desk>,
    Query(q): Query<CustomerQuery>,
) -> SimResult<axum::Json<CustomerList>> {
    let filter = CustomerFilter {
        email: q.email,
        phone: q.phone,
        updated_since: parse_since(q.updated_since.as_deref())?,
    };
    desk.list(&filter)
        .map(|data| axum::Json(CustomerList { data }))
}

/// `GET /v1/customers/{id}`.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "The customer id")),
    responses((status = 200, body = Customer),
        (status = 404, description = "`resource_missing`", body = ErrorBody)))]
async fn get_customer(
    State(desk): State<Desk>,
    Path(id): Path<String>,
) -> SimResult<axum::Json<Customer>> {
    desk.get(&id).map(axum::Json)
}

/// `PATCH /v1/customers/{id}`: change the fields given (an empty `email` or
/// `phone` removes it); emits `customers/update` on the shop,
/// `customer.updated` on the POS, when something changed.
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers", request_body = UpdateCustomer,
    params(("id" = String, Path, description = "The customer id")),
    responses((status = 200, body = Customer),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`resource_missing`", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_customer(
    State(desk): State<Desk>,
    Path(id): Path<String>,
    Json(req): Json<UpdateCustomer>,
) -> SimResult<axum::Json<Customer>> {
    desk.update(&id, req).map(axum::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx() -> Effects {
        Effects::new(DateTime::<Utc>::UNIX_EPOCH)
    }

    fn ada() -> CreateCustomer {
        CreateCustomer {
            name: "Ada Lovelace".into(),
            email: Some("ada@example.com".into()),
            phone: Some("+44 20 7946 0000".into()),
            accepts_marketing: true,
        }
    }

    #[test]
    fn emails_are_unique_case_insensitively_and_phones_are_not() {
        let mut book = CustomerBook::new("cus", "customers/create", "customers/update");
        let mut f = fx();
        let a = book.create(&mut f, ada()).unwrap();
        assert_eq!(a.id, "cus_000001");
        let again = CreateCustomer {
            email: Some(" ADA@example.com".into()),
            ..ada()
        };
        let e = book.create(&mut f, again).unwrap_err();
        assert_eq!(e.body().error.code, "email_taken");
        assert_eq!(e.body().error.field.as_deref(), Some("email"));
        let sibling = CreateCustomer {
            email: None,
            ..ada()
        };
        assert!(book.create(&mut f, sibling).is_ok());
        assert!(book.invariant_violations().is_empty());
        assert_eq!(f.events().len(), 2);
    }

    #[test]
    fn a_shop_book_keeps_one_profile_per_phone_on_its_digits() {
        let mut book =
            CustomerBook::new("cus", "customers/create", "customers/update").with_unique_phones();
        let mut f = fx();
        let a = book.create(&mut f, ada()).unwrap();
        let phone = a.phone.clone().expect("ada has a phone");
        let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
        let sibling = CreateCustomer {
            email: None,
            phone: Some(format!("+{digits}")),
            ..ada()
        };
        let e = book.create(&mut f, sibling).unwrap_err();
        assert_eq!(e.body().error.code, "phone_taken");
        assert_eq!(e.body().error.field.as_deref(), Some("phone"));
        // Another profile may not take it by an update either, but the
        // profile that holds it may write it again in another format.
        let b = book
            .create(
                &mut f,
                CreateCustomer {
                    name: "Byron".into(),
                    email: Some("byron@example.com".into()),
                    phone: None,
                    accepts_marketing: false,
                },
            )
            .unwrap();
        let to_b = UpdateCustomer {
            phone: Some(phone.clone()),
            ..Default::default()
        };
        assert_eq!(
            book.update(&mut f, &b.id, to_b)
                .unwrap_err()
                .body()
                .error
                .code,
            "phone_taken"
        );
        let again = UpdateCustomer {
            phone: Some(format!("+{digits}")),
            ..Default::default()
        };
        assert!(book.update(&mut f, &a.id, again).is_ok());
        assert!(book.invariant_violations().is_empty());
    }

    #[test]
    fn an_update_changes_only_what_it_names_and_keeps_a_way_to_reach_the_person() {
        let mut book = CustomerBook::new("cust", "customer.created", "customer.updated");
        let mut f = fx();
        let a = book.create(&mut f, ada()).unwrap();
        let same = book
            .update(
                &mut f,
                &a.id,
                UpdateCustomer {
                    accepts_marketing: Some(true),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(same.version, 1, "no change, no new version");
        let b = book
            .update(
                &mut f,
                &a.id,
                UpdateCustomer {
                    accepts_marketing: Some(false),
                    email: Some(String::new()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!((b.version, b.email.as_deref()), (2, None));
        assert_eq!(b.name, "Ada Lovelace");
        let e = book
            .update(
                &mut f,
                &a.id,
                UpdateCustomer {
                    phone: Some(String::new()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.body().error.field.as_deref(), Some("email"));
        let e = book
            .update(
                &mut f,
                &a.id,
                UpdateCustomer {
                    phone: Some("555-0100".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.body().error.field.as_deref(), Some("phone"));
        let found = book
            .list(&CustomerFilter {
                phone: Some("+442079460000".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(found.len(), 1);
    }
}
