//! Stripe's request encoding: `application/x-www-form-urlencoded` bodies
//! and query strings with nested keys (`metadata[order_id]=7`,
//! `payment_method_types[0]=card`, `expand[]=latest_charge`,
//! `created[gte]=1700000000`), decoded by `serde_qs` into typed forms.
//! Rejections are Stripe's: 400 `parameter_unknown`, `parameter_missing` or
//! `parameter_invalid_*`, naming the param.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::StripeError;
use crate::extract::BODY_LIMIT_BYTES;

/// A form body.
#[derive(Debug, Clone, Default)]
pub struct Form<T>(pub T);

/// A query string, decoded like a form body.
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

/// `created[gt|gte|lt|lte]`, or `created=<unix>` for one exact second.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Range {
    /// Exactly this second.
    Exact(#[serde(deserialize_with = "de_i64")] i64),
    /// Bounds.
    Bounds(Bounds),
    /// No filter.
    #[default]
    #[serde(skip)]
    Any,
}

/// The bounds of a [`Range`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    #[serde(default, deserialize_with = "de_opt_i64")]
    gt: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    gte: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    lt: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    lte: Option<i64>,
}

impl Range {
    /// True when `t` (unix seconds) is inside.
    pub fn contains(&self, t: i64) -> bool {
        match self {
            Range::Any => true,
            Range::Exact(x) => t == *x,
            Range::Bounds(b) => {
                b.gt.is_none_or(|x| t > x)
                    && b.gte.is_none_or(|x| t >= x)
                    && b.lt.is_none_or(|x| t < x)
                    && b.lte.is_none_or(|x| t <= x)
            }
        }
    }
}

// Untagged enums buffer their input, so numbers arrive as strings.
fn de_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|_| serde::de::Error::custom(format!("Invalid integer: {s}")))
}

fn de_opt_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    de_i64(d).map(Some)
}

/// Decodes `input` (a body or a query string) into `T`.
pub fn decode<T: DeserializeOwned>(input: &[u8]) -> Result<T, StripeError> {
    // Some clients send the brackets percent-encoded; serde_qs's query
    // mode wants them literal.
    let text = String::from_utf8_lossy(input)
        .replace("%5B", "[")
        .replace("%5D", "]")
        .replace("%5b", "[")
        .replace("%5d", "]");
    let config = serde_qs::Config::new().max_depth(5);
    let de = match serde_qs::Deserializer::with_config(config, text.as_bytes()) {
        Ok(de) => de,
        Err(e) => {
            return Err(StripeError::invalid(
                "parameter_invalid",
                format!("Invalid request: {e}"),
                None,
            ));
        }
    };
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = bracketed(&e.path().to_string());
        let message = e.into_inner().to_string();
        if let Some(name) = quoted(&message, "unknown field") {
            // The path already ends at the unknown key.
            let param = if path.is_empty() { name } else { path.clone() };
            StripeError::invalid(
                "parameter_unknown",
                format!("Received unknown parameter: {param}"),
                Some(&param),
            )
        } else if let Some(name) = quoted(&message, "missing field") {
            StripeError::param_missing(&join(&path, &name))
        } else if message.contains("expected i64")
            || message.contains("expected u")
            || message.contains("invalid digit")
            || message.contains("Invalid integer")
        {
            StripeError::invalid(
                "parameter_invalid_integer",
                format!("Invalid integer: {}", value_of(&message)),
                Some(&path),
            )
        } else if message.contains("expected a boolean") {
            StripeError::invalid(
                "parameter_invalid_boolean",
                format!("Invalid boolean: {}", value_of(&message)),
                Some(&path),
            )
        } else {
            StripeError::invalid(
                "parameter_invalid",
                format!("Invalid {path}: {message}"),
                (!path.is_empty()).then_some(path.as_str()),
            )
        }
    })
}

/// The value a serde message quotes (`invalid type: string "ten", …` → `ten`).
fn value_of(message: &str) -> &str {
    message.split('"').nth(1).unwrap_or(message)
}

/// `metadata.order` → `metadata[order]`.
fn bracketed(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    let mut parts = path.split('.');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for p in parts {
        out.push('[');
        out.push_str(p);
        out.push(']');
    }
    out
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}[{name}]")
    }
}

/// ``unknown field `x`, expected …`` → `x`.
fn quoted(message: &str, prefix: &str) -> Option<String> {
    let rest = message
        .strip_prefix(prefix)?
        .trim_start()
        .strip_prefix('`')?;
    Some(rest.split('`').next()?.to_owned())
}

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = StripeError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            StripeError::invalid(
                "parameter_invalid",
                format!("The request body is over the {BODY_LIMIT_BYTES} byte limit"),
                None,
            )
        })?;
        decode(&bytes).map(Form)
    }
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = StripeError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        decode(parts.uri.query().unwrap_or("").as_bytes()).map(Query)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct F {
        amount: Option<i64>,
        confirm: Option<bool>,
        #[serde(default)]
        metadata: BTreeMap<String, String>,
        #[serde(default)]
        payment_method_types: Vec<String>,
        #[serde(default)]
        expand: Vec<String>,
        #[serde(default)]
        created: Range,
    }

    #[test]
    fn nested_keys_decode_as_stripe_sends_them() {
        let f: F = decode(
            b"amount=1250&confirm=true&metadata[order_id]=7&payment_method_types[0]=card\
              &expand[]=latest_charge&created[gte]=10&created[lt]=20",
        )
        .unwrap();
        assert_eq!(f.amount, Some(1250));
        assert_eq!(f.confirm, Some(true));
        assert_eq!(f.metadata["order_id"], "7");
        assert_eq!(f.payment_method_types, ["card"]);
        assert_eq!(f.expand, ["latest_charge"]);
        assert!(f.created.contains(10) && !f.created.contains(20) && !f.created.contains(9));
        let f: F = decode(b"metadata%5Bk%5D=v&expand%5B0%5D=x&created=5").unwrap();
        assert_eq!((f.metadata["k"].as_str(), f.expand[0].as_str()), ("v", "x"));
        assert_eq!(f.created, Range::Exact(5));
        let f: F = decode(b"").unwrap();
        assert_eq!(f.amount, None);
    }

    #[test]
    fn rejections_name_the_param() {
        let e = decode::<F>(b"amount=1&colour=red").unwrap_err();
        assert_eq!(e.error["code"], "parameter_unknown");
        assert_eq!(e.error["param"], "colour");
        let e = decode::<F>(b"amount=ten").unwrap_err();
        assert_eq!(e.error["code"], "parameter_invalid_integer");
        assert_eq!(e.error["param"], "amount");
    }
}
