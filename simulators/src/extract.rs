//! Request extractors whose every rejection is a JSON error naming the field.
//!
//! axum's own `Json` and `Query` reject with plain text; these wrap the same
//! work and answer with [`SimError`] instead: 400 `invalid_json` for a body
//! that is not JSON (or not a JSON object), 400 `parameter_invalid` /
//! `parameter_missing` / `parameter_unknown` with the dotted field path for
//! shape errors, in the query string too, 413 `body_too_large` past the
//! limit. Messages speak of the wire (`an integer`, `a decimal string such as
//! "20.00"`), never of Rust types.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::SimError;

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
    // Every body is an object; serde would read an array as a struct's
    // fields in order, and a scalar as a type error at no field.
    if let Some(first) = text.iter().find(|b| !b.is_ascii_whitespace())
        && *first != b'{'
    {
        let what = match first {
            b'[' => "a list",
            b'"' => "a string",
            b'n' => "null",
            b't' | b'f' => "a boolean",
            _ => "a number or not JSON",
        };
        return Err(SimError::malformed(
            "invalid_json",
            format!("the body must be a JSON object, not {what}"),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // Syntax first: a body that is not JSON is `invalid_json`, whatever
        // a field read before the fault would have said.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(text) {
            return SimError::malformed(
                "invalid_json",
                format!("the body is not valid JSON: {syntax}"),
            );
        }
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut class = inner.classify();
        let mut message = inner.to_string();
        // serde_json reports some type errors (a `null` or an array where an
        // enum goes) as syntax errors; valid JSON makes them shape errors.
        if class == serde_json::error::Category::Syntax {
            class = serde_json::error::Category::Data;
            message = format!("invalid value for `{path}`: {message}");
        }
        shape_error(&path, &message, class)
    })
}

fn shape_error(path: &str, message: &str, class: serde_json::error::Category) -> SimError {
    use serde_json::error::Category;
    let field = (path != ".").then(|| path.to_owned());
    let message = &human(message);
    if field.is_none() && message.starts_with("invalid type") {
        // Valid JSON, but not an object: `42`, `[1]`, `null`.
        return SimError::malformed(
            "invalid_json",
            format!("the body must be a JSON object: {message}"),
        );
    }
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

/// A serde message in the words of the wire, not of Rust: `expected i64`
/// becomes `expected an integer`, a `Decimal` a decimal string, and the
/// position inside the body (the field names it) goes.
fn human(message: &str) -> String {
    let mut m = message.to_owned();
    if let Some(at) = m.rfind(" at line ")
        && m[at..]
            .trim_start_matches(" at line ")
            .chars()
            .all(|c| c.is_ascii_digit() || " column".contains(c))
    {
        m.truncate(at);
    }
    const WORDS: &[(&str, &str)] = &[
        (
            "a Decimal type representing a fixed-point number",
            "a decimal string such as \"20.00\"",
        ),
        ("expected isize", "expected an integer"),
        ("expected i64", "expected an integer"),
        ("expected i32", "expected an integer"),
        ("expected i16", "expected an integer"),
        ("expected i8", "expected an integer"),
        ("expected usize", "expected a non-negative integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u16", "expected a non-negative integer"),
        ("expected u8", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected an object"),
        ("expected a borrowed string", "expected a string"),
        ("expected a boolean", "expected true or false"),
    ];
    for (rust, wire) in WORDS {
        m = m.replace(rust, wire);
    }
    // `expected struct CreateSale` / `expected enum TenderType`: Rust names.
    for kind in ["struct ", "enum "] {
        let pat = format!("expected {kind}");
        if let Some(at) = m.find(&pat) {
            let end = m[at + pat.len()..]
                .find(|c: char| !c.is_alphanumeric() && c != '_')
                .map_or(m.len(), |e| at + pat.len() + e);
            let word = if kind == "struct " {
                "expected an object"
            } else {
                "expected one of its named values"
            };
            m.replace_range(at..end, word);
        }
    }
    m
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
        SimError::body_too_large()
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
                let message = human(&e.into_inner().to_string());
                let (code, field) = if let Some(name) = quoted_after(&message, "missing field") {
                    ("parameter_missing", Some(name))
                } else if message.starts_with("unknown field") {
                    ("parameter_unknown", (path != ".").then_some(path))
                } else {
                    ("parameter_invalid", (path != ".").then_some(path))
                };
                let mut err = SimError::malformed(code, format!("bad query string: {message}"));
                err.field = field;
                err
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

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
        let e = parse_json::<Body>(br#"{"colour":"red","lines":["#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("invalid_json", None));
        let e = parse_json::<Body>(b"[1]").unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("invalid_json", None));
        let e = parse_json::<Body>(br#"{"lines":[{"sku":"A","quantity":"two"}]}"#).unwrap_err();
        assert!(e.message.contains("expected an integer"), "{}", e.message);
        assert!(
            !e.message.contains("i64") && !e.message.contains("line 1"),
            "{}",
            e.message
        );
        let e = parse_json::<Body>(b"").unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("parameter_missing", Some("lines"))
        );
    }
}
