//! Request extractors whose every rejection is a JSON error naming the field.
//!
//! axum's own `Json` and `Query` reject with plain text; these wrap the same
//! work and answer with [`SimError`] instead: 400 `invalid_json` for syntax,
//! 400 `parameter_invalid` / `parameter_missing` / `parameter_unknown` with the
//! dotted field path for shape errors, 413 `body_too_large` past the limit.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ErrorKind, SimError};

/// The largest request body any simulator accepts: 1 MiB.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// A JSON body. An empty body reads as `{}`, so that bodies whose fields are
/// all optional (capture, cancel) may be left out, as Stripe allows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = SimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a JSON body into `T`, naming the field at fault on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SimError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut class = inner.classify();
        let mut message = inner.to_string();
        // serde_json reports some type errors (a `null` or an array where an
        // enum goes) as syntax errors; valid JSON makes them shape errors.
        if class == serde_json::error::Category::Syntax
            && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
        {
            class = serde_json::error::Category::Data;
            message = format!("invalid value for `{path}`: {message}");
        }
        shape_error(&path, &message, class)
    })
}

fn shape_error(path: &str, message: &str, class: serde_json::error::Category) -> SimError {
    use serde_json::error::Category;
    let field = (path != ".").then(|| path.to_owned());
    match class {
        Category::Syntax | Category::Eof | Category::Io => SimError::malformed(
            "invalid_json",
            format!("the body is not valid JSON: {message}"),
        ),
        Category::Data => {
            let (code, field) = if let Some(name) = quoted_after(message, "missing field") {
                ("parameter_missing", Some(join(field.as_deref(), &name)))
            } else if message.starts_with("unknown field") {
                // The path already ends at the unknown key.
                ("parameter_unknown", field)
            } else {
                ("parameter_invalid", field)
            };
            let mut e = SimError::malformed(code, message.to_owned());
            e.field = field;
            e
        }
    }
}

/// `missing field `sku`` → `sku`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?.trim_start();
    let rest = rest.strip_prefix('`')?;
    Some(rest.split('`').next()?.to_owned())
}

fn join(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) if !p.is_empty() => format!("{p}.{name}"),
        _ => name.to_owned(),
    }
}

fn body_error(rejection: BytesRejection) -> SimError {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        SimError::new(
            ErrorKind::TooLarge,
            "body_too_large",
            format!("the body is over the {BODY_LIMIT_BYTES} byte limit"),
        )
    } else {
        SimError::malformed("invalid_body", rejection.body_text())
    }
}

/// A query string, parsed with the same field-naming errors as [`Json`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = SimError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let field = if let Some(name) = quoted_after(&message, "missing field") {
                    Some(name)
                } else if path != "." {
                    Some(path)
                } else {
                    None
                };
                let mut err = SimError::malformed(
                    "parameter_invalid",
                    format!("bad query string: {message}"),
                );
                err.field = field;
                err
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        lines: Vec<Line>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        sku: String,
        quantity: i64,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"lines":[{"sku":"A","quantity":"two"}]}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("parameter_invalid", Some("lines[0].quantity"))
        );
        let e = parse_json::<Body>(br#"{"lines":[{"quantity":2}]}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("parameter_missing", Some("lines[0].sku"))
        );
        let e = parse_json::<Body>(br#"{"lines":[],"colour":"red"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("parameter_unknown", Some("colour"))
        );
        let e = parse_json::<Body>(br#"{"lines":["#).unwrap_err();
        assert_eq!((e.code, e.kind), ("invalid_json", ErrorKind::Malformed));
        let e = parse_json::<Body>(b"").unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("parameter_missing", Some("lines"))
        );
    }
}
