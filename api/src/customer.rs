//! Customer profiles, the same shape on the shop and the POS, the rules that
//! tell whether two profiles are one person, and a typed client for the
//! `/v1/customers` routes of either platform.
//!
//! A profile is reachable by email or phone, so it has at least one of them.
//! Emails match case-insensitively once trimmed ([`normalize_email`]); phones
//! are written E.164-ish (`+`, then 8 to 15 digits, with spaces, dots,
//! dashes or parentheses between them) and match on their digits
//! ([`normalize_phone`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::client::ApiClient;
use crate::error::ApiError;
use crate::shop::encode;

/// The longest name a profile takes, in characters.
pub const NAME_LEN_MAX: usize = 255;
/// The longest email a profile takes, in characters (RFC 5321's path limit).
pub const EMAIL_LEN_MAX: usize = 254;

/// `POST /v1/customers`: a new profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// The person's name, as they gave it.
    #[serde(default)]
    pub name: String,
    /// An email address; unique on the platform (case-insensitively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// An E.164-ish phone number, `+` and 8 to 15 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Whether the person agreed to marketing messages (no by default).
    #[serde(default)]
    pub accepts_marketing: bool,
}

/// `PATCH /v1/customers/{id}`: only the fields given change; an empty
/// `email` or `phone` removes it (a profile keeps at least one of them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateCustomer {
    /// A new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new email (empty: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A new phone (empty: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// New marketing consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepts_marketing: Option<bool>,
}

impl UpdateCustomer {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.email.is_none()
            && self.phone.is_none()
            && self.accepts_marketing.is_none()
    }
}

/// A customer profile (the data of `customers/create` and `customers/update`
/// on the shop, `customer.created` and `customer.updated` on the POS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    /// The platform's id (`cus_000001` on the shop, `cust_000001` on the POS).
    pub id: String,
    /// The person's name (may be empty).
    pub name: String,
    /// The email, as written.
    pub email: Option<String>,
    /// The phone, as written.
    pub phone: Option<String>,
    /// Marketing consent.
    pub accepts_marketing: bool,
    /// When the profile was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// 1 when made, one more on every change.
    pub version: u64,
}

/// `GET /v1/customers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerList {
    /// The profiles, by id.
    pub data: Vec<Customer>,
}

/// The filters of `GET /v1/customers`; every one given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Profiles whose email matches (case-insensitively, trimmed).
    pub email: Option<String>,
    /// Profiles whose phone has the same digits.
    pub phone: Option<String>,
    /// Profiles changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
}

/// An email as profiles are matched by it: trimmed, lower case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A phone as profiles are matched by it: `+` and its digits only.
pub fn normalize_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

/// Why an email is refused, if it is.
pub fn email_problem(email: &str) -> Option<String> {
    let e = email.trim();
    if e.chars().count() > EMAIL_LEN_MAX {
        return Some(format!("an email is at most {EMAIL_LEN_MAX} characters"));
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Some(format!("`{e}` is not an email address (no `@`)"));
    };
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    (!ok).then(|| format!("`{e}` is not an email address like `ada@example.com`"))
}

/// Why a phone is refused, if it is: E.164-ish is `+` then 8 to 15 digits,
/// spaces, dots, dashes and parentheses allowed between them.
pub fn phone_problem(phone: &str) -> Option<String> {
    let p = phone.trim();
    let digits = p.chars().filter(char::is_ascii_digit).count();
    let ok = p.starts_with('+')
        && p[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
        && (8..=15).contains(&digits);
    (!ok).then(|| {
        format!("`{p}` is not an E.164 phone number (`+` and 8 to 15 digits, like `+14155550100`)")
    })
}

/// The `/v1/customers` routes of one platform (the shop's or the POS's).
#[derive(Clone, Copy, Debug)]
pub struct CustomerClient<'a>(pub &'a ApiClient);

impl<'a> CustomerClient<'a> {
    /// `POST /v1/customers`.
    pub async fn create(
        self,
        body: &CreateCustomer,
        key: Option<&str>,
    ) -> Result<Customer, ApiError> {
        self.0.post("/v1/customers", body, key).await
    }
    /// `GET /v1/customers/{id}`.
    pub async fn get(self, id: &str) -> Result<Customer, ApiError> {
        self.0.get(&format!("/v1/customers/{id}")).await
    }
    /// `PATCH /v1/customers/{id}`.
    pub async fn update(self, id: &str, body: &UpdateCustomer) -> Result<Customer, ApiError> {
        self.0
            .send(
                http::Method::PATCH,
                &format!("/v1/customers/{id}"),
                Some(body),
                None,
            )
            .await
    }
    /// `GET /v1/customers?email=&phone=&updated_since=`.
    pub async fn list(self, filter: &CustomerFilter) -> Result<CustomerList, ApiError> {
        let mut query = Vec::new();
        if let Some(e) = &filter.email {
            query.push(format!("email={}", encode(e)));
        }
        if let Some(p) = &filter.phone {
            query.push(format!("phone={}", encode(p)));
        }
        if let Some(t) = &filter.updated_since {
            query.push(format!(
                "updated_since={}",
                encode(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            ));
        }
        if query.is_empty() {
            self.0.get("/v1/customers").await
        } else {
            self.0
                .get(&format!("/v1/customers?{}", query.join("&")))
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones_match_on_their_normal_form() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
        assert_eq!(normalize_phone("+44 20 7946-0000"), "+442079460000");
        assert!(email_problem("ada@example.com").is_none());
        assert!(email_problem("ada.example.com").is_some());
        assert!(email_problem("ada@localhost").is_some());
        assert!(phone_problem("+44 (20) 7946 0000").is_none());
        assert!(phone_problem("020 7946 0000").is_some(), "no `+`");
        assert!(phone_problem("+1234").is_some(), "too short");
        assert!(phone_problem("+1 415 CALL ME").is_some());
    }
}
