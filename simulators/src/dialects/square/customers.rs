//! Square's Customers API over the POS's customer profiles: `POST
//! /v2/customers`, `GET` and `PUT /v2/customers/{id}`, and `POST
//! /v2/customers/search` with an exact `email_address` or `phone_number`
//! filter. Translation only: a Square customer is the POS profile, its
//! `given_name` and `family_name` the profile's name split at the first
//! space, `preferences.email_unsubscribed` the opposite of its marketing
//! consent. Writes are the native ones, so they emit `customer.created` and
//! `customer.updated` with the caller as actor, delivered to Square webhook
//! subscriptions by `events.rs`.
//!
//! Square's request bodies have no `preferences`: the client cannot set
//! marketing consent. The dialect accepts `preferences.email_unsubscribed`
//! on create and update as an extension, for connectors that write raw
//! HTTP; other Square fields with no place on the profile (`company_name`,
//! `nickname`, `address`, `note`, `birthday`, `reference_id`, `tax_ids`) are
//! refused with a 400 naming the field rather than dropped.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use omnisim_api::customer::{CreateCustomer, Customer, CustomerFilter, UpdateCustomer};
use serde::Deserialize;
use serde_json::{Value, json};

use super::routes::{Dialect, answer, bad, idempotent, parse};
use super::wire;
use crate::error::{SimError, SimResult};

type Ctx = State<std::sync::Arc<Dialect>>;

/// Square's name for a profile field, in errors.
fn square_field(e: SimError) -> SimError {
    let field = match e.field.as_deref() {
        Some("email") => Some("email_address"),
        Some("phone") => Some("phone_number"),
        Some("name") => Some("given_name"),
        _ => None,
    };
    match field {
        Some(f) => {
            let mut e = e;
            e.field = Some(f.to_owned());
            e
        }
        None => e,
    }
}

/// A profile as Square's `Customer` object.
pub(super) fn customer(c: &Customer) -> Value {
    let (given, family) = match c.name.split_once(' ') {
        Some((g, f)) => (g.to_owned(), f.to_owned()),
        None => (c.name.clone(), String::new()),
    };
    let mut o = json!({
        "id": c.id,
        "created_at": wire::ts(c.created_at),
        "updated_at": wire::ts(c.updated_at),
        "preferences": { "email_unsubscribed": !c.accepts_marketing },
        "creation_source": "THIRD_PARTY",
        "version": c.version,
    });
    if !given.is_empty() {
        o["given_name"] = given.into();
    }
    if !family.is_empty() {
        o["family_name"] = family.into();
    }
    if let Some(e) = &c.email {
        o["email_address"] = e.clone().into();
    }
    if let Some(p) = &c.phone {
        o["phone_number"] = p.clone().into();
    }
    o
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Preferences {
    #[serde(default)]
    email_unsubscribed: Option<bool>,
}

/// The body of `POST /v2/customers` and `PUT /v2/customers/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerIn {
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    email_address: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    preferences: Option<Preferences>,
    /// Optimistic concurrency on `PUT`: the version the caller read.
    #[serde(default)]
    version: Option<u64>,
}

impl CustomerIn {
    fn name(&self) -> Option<String> {
        match (&self.given_name, &self.family_name) {
            (None, None) => None,
            (g, f) => Some(
                [g.as_deref(), f.as_deref()]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }

    fn consent(&self) -> Option<bool> {
        self.preferences
            .as_ref()
            .and_then(|p| p.email_unsubscribed)
            .map(|u| !u)
    }
}

pub(super) async fn create_customer(State(d): Ctx, body: Bytes) -> Response {
    let req: CustomerIn = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let run = async {
        if req.name().is_none() && req.email_address.is_none() && req.phone_number.is_none() {
            return Err(bad(
                "MISSING_REQUIRED_PARAMETER",
                "At least one of `given_name`, `family_name`, `email_address` or `phone_number` must be set",
                "given_name",
            ));
        }
        let create = CreateCustomer {
            name: req.name().unwrap_or_default(),
            email: req.email_address.clone(),
            phone: req.phone_number.clone(),
            accepts_marketing: req.consent().unwrap_or(false),
        };
        let c = d
            .sim
            .commit(|s, fx| s.customers.create(fx, create))
            .map_err(square_field)?;
        Ok(json!({ "customer": customer(&c) }))
    };
    idempotent(&d, "/v2/customers", key, &body, run).await
}

pub(super) async fn get_customer(State(d): Ctx, Path(id): Path<String>) -> Response {
    answer(
        d.sim
            .read(|s| s.customers.get(&id))
            .map(|c| json!({ "customer": customer(&c) })),
    )
}

pub(super) async fn update_customer(
    State(d): Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let run = || -> SimResult<Value> {
        let req: CustomerIn = parse(&body)?;
        let update = UpdateCustomer {
            name: req.name(),
            email: req.email_address.clone(),
            phone: req.phone_number.clone(),
            accepts_marketing: req.consent(),
        };
        let c = d
            .sim
            .commit(|s, fx| {
                let now = s.customers.get(&id)?;
                if let Some(v) = req.version
                    && v != now.version
                {
                    return Err(SimError::conflict(
                        "VERSION_MISMATCH",
                        format!("customer `{id}` is at version {}, not {v}", now.version),
                    )
                    .field("version"));
                }
                s.customers.update(fx, &id, update)
            })
            .map_err(square_field)?;
        Ok(json!({ "customer": customer(&c) }))
    };
    answer(run())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exact {
    exact: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    #[serde(default)]
    email_address: Option<Exact>,
    #[serde(default)]
    phone_number: Option<Exact>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    #[serde(default)]
    filter: Option<Filter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Search {
    #[serde(default)]
    query: Option<Query>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `POST /v2/customers/search`: the profiles whose email (any case) or phone
/// (its digits) is exactly the one given; both filters must hold. Without a
/// filter, every profile (at most `limit`, 100 by default).
pub(super) async fn search_customers(State(d): Ctx, body: Bytes) -> Response {
    let run = || -> SimResult<Value> {
        let req: Search = parse(&body)?;
        let limit = req.limit.unwrap_or(100);
        if !(1..=100).contains(&limit) {
            return Err(bad("INVALID_VALUE", "`limit` is from 1 to 100", "limit"));
        }
        let filter = req.query.and_then(|q| q.filter).unwrap_or_default();
        let f = CustomerFilter {
            email: filter.email_address.map(|e| e.exact),
            phone: filter.phone_number.map(|p| p.exact),
            updated_since: None,
        };
        let found = d.sim.read(|s| s.customers.list(&f)).map_err(|e| {
            let mut e = square_field(e);
            if e.field.as_deref() == Some("phone_number") {
                e.field = Some("query.filter.phone_number.exact".into());
            }
            e
        })?;
        let out: Vec<Value> = found.iter().take(limit as usize).map(customer).collect();
        if out.is_empty() {
            Ok(json!({}))
        } else {
            Ok(json!({ "customers": out }))
        }
    };
    answer(run())
}
