//! `Idempotency-Key` on every POST, as Stripe defines it.
//!
//! - The first answer (status and body) is stored once execution begins and
//!   replayed for 24 h to a retry with the same key and the same request.
//! - The same key with a different request → 422 `idempotency_error`.
//! - A request on a key still in flight → 409 `idempotency_key_in_use`.
//! - Answers from requests that did not execute (malformed, not found,
//!   invalid, injected 5xx) are not stored, so a corrected retry can use the
//!   key again.
//!
//! Keys are scoped by API key and bounded in number and age.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::core::{Core, lock};
use crate::dialects::Wire;
use crate::error::SimError;
use crate::extract::BODY_LIMIT_BYTES;

/// How long a stored answer is replayed.
pub const RETENTION_HOURS: i64 = 24;
/// [`RETENTION_HOURS`] as a duration: the default key window.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(RETENTION_HOURS as u64 * 3600);
/// The most keys kept; the oldest go first past this.
pub const MAX_KEYS: usize = 200_000;
/// Longest key accepted, as Stripe allows.
pub const MAX_KEY_LEN: usize = 255;

/// A SHA-256 digest of a keyed request ([`fingerprint`]).
pub type Fingerprint = [u8; 32];
/// (API key, idempotency key), shared by the map and the age queue.
type Scope = Arc<(String, String)>;

#[derive(Clone, Debug)]
enum Entry {
    InFlight {
        fingerprint: Fingerprint,
    },
    Done {
        fingerprint: Fingerprint,
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: Bytes,
    },
}

/// Stored answers by (API key, idempotency key).
///
/// A hash map: it is only ever looked up, never iterated, so its order cannot
/// leak into a run.
#[derive(Debug)]
pub struct IdempotencyStore {
    entries: HashMap<Scope, (DateTime<Utc>, Entry)>,
    by_age: VecDeque<(DateTime<Utc>, Scope)>,
    max_age: TimeDelta,
    max_keys: usize,
}

impl Default for IdempotencyStore {
    fn default() -> Self {
        IdempotencyStore::new(KEYS_MAX_AGE, MAX_KEYS)
    }
}

/// What to do with an incoming keyed request.
#[derive(Debug)]
pub enum Begin {
    /// Run it; the key is now in flight.
    Proceed,
    /// Answer with the stored response.
    Replay(Response),
    /// Refuse it.
    Refuse(SimError),
}

impl IdempotencyStore {
    /// An empty store keeping keys for `max_age`, at most `max_keys` of them.
    pub fn new(max_age: Duration, max_keys: usize) -> Self {
        IdempotencyStore {
            entries: HashMap::new(),
            by_age: VecDeque::new(),
            max_age: TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX),
            max_keys: max_keys.max(1),
        }
    }

    /// Changes the window; takes effect at the next request.
    pub fn set_limits(&mut self, max_age: Duration, max_keys: usize) {
        self.max_age = TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX);
        self.max_keys = max_keys.max(1);
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        let horizon = now.checked_sub_signed(self.max_age);
        while let Some((at, scope)) = self.by_age.front() {
            if horizon.is_none_or(|h| *at > h) && self.by_age.len() <= self.max_keys {
                break;
            }
            let (at, scope) = (*at, Arc::clone(scope));
            self.by_age.pop_front();
            if self.entries.get(&scope).is_some_and(|(t, _)| *t == at) {
                self.entries.remove(&scope);
            }
        }
    }

    /// Looks up a key for a request with `fingerprint`.
    pub fn begin(&mut self, scope: Scope, fingerprint: Fingerprint, now: DateTime<Utc>) -> Begin {
        self.expire(now);
        match self.entries.get(&scope) {
            Some((_, Entry::InFlight { .. })) => Begin::Refuse(SimError::conflict(
                "idempotency_key_in_use",
                "a request with this idempotency key is still being processed; retry later",
            )),
            Some((_, Entry::Done { fingerprint: f, .. })) if *f != fingerprint => Begin::Refuse(
                SimError::invalid(
                    "idempotency_error",
                    "this idempotency key was used with a different request",
                )
                .field("Idempotency-Key"),
            ),
            Some((
                _,
                Entry::Done {
                    status,
                    content_type,
                    body,
                    ..
                },
            )) => {
                let mut response = (*status, body.clone()).into_response();
                if let Some(ct) = content_type {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, ct.clone());
                }
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                Begin::Replay(response)
            }
            None => {
                self.entries
                    .insert(Arc::clone(&scope), (now, Entry::InFlight { fingerprint }));
                self.by_age.push_back((now, scope));
                Begin::Proceed
            }
        }
    }

    /// Stores the answer of a request that executed.
    fn finish(
        &mut self,
        scope: &Scope,
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: Bytes,
    ) {
        if let Some((_, entry)) = self.entries.get_mut(scope)
            && let Entry::InFlight { fingerprint } = entry
        {
            *entry = Entry::Done {
                fingerprint: *fingerprint,
                status,
                content_type,
                body,
            };
        }
    }

    /// Forgets an in-flight key whose request did not execute.
    fn forget(&mut self, scope: &Scope) {
        if matches!(self.entries.get(scope), Some((_, Entry::InFlight { .. }))) {
            self.entries.remove(scope);
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Whether an answer with `status` is stored for replay: the request executed.
fn executed(status: StatusCode) -> bool {
    status.is_success() || status == StatusCode::PAYMENT_REQUIRED || status == StatusCode::CONFLICT
}

/// Clears an in-flight key if the request future is dropped before it ends.
struct InFlightGuard {
    core: Arc<Core>,
    scope: Option<Scope>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(scope) = self.scope.take() {
            lock(&self.core.idempotency).forget(&scope);
        }
    }
}

/// Idempotency for POST requests with an `Idempotency-Key` header, scoped to
/// the `caller`'s credential: the innermost part of the middleware stack
/// ([`crate::layers::stack`]), next to the handlers. Only wires that carry
/// the key in that header use it (native and Stripe); refusals are rendered
/// in the request's wire.
pub async fn layer(
    core: Arc<Core>,
    caller: Arc<str>,
    wire: Wire,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST || !wire.header_idempotency() {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get("idempotency-key").cloned() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k.to_owned(),
        _ => {
            return wire.error_response(
                &path,
                SimError::malformed(
                    "parameter_invalid",
                    format!("an idempotency key is 1 to {MAX_KEY_LEN} visible ASCII characters"),
                )
                .field("Idempotency-Key"),
            );
        }
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return wire.error_response(&path, SimError::body_too_large());
        }
    };
    let fingerprint = fingerprint(
        &[
            parts.method.as_str().as_bytes(),
            b" ",
            parts.uri.path().as_bytes(),
            b"?",
            parts.uri.query().unwrap_or("").as_bytes(),
            b"\n",
        ],
        &bytes,
    );
    let request = Request::from_parts(parts, Body::from(bytes));
    keyed(
        &core,
        &caller,
        key,
        fingerprint,
        wire,
        &path,
        next.run(request),
    )
    .await
}

/// The fingerprint of a keyed request: SHA-256 over `head` (what else
/// identifies the request: method, path, query) and the `body`. A retry
/// with the same key and a different fingerprint is an `idempotency_error`.
pub fn fingerprint(head: &[&[u8]], body: &[u8]) -> Fingerprint {
    let mut h = Sha256::new();
    for part in head {
        h.update(part);
    }
    h.update(body);
    h.finalize().into()
}

/// Runs `run` under the idempotency key `key` of `caller`: the first answer
/// of an executed request is stored and replayed to a retry with the same
/// `fingerprint`; another fingerprint is refused (`idempotency_error`), and
/// so is a retry while the first is in flight (`idempotency_key_in_use`).
/// The header layer uses it; a dialect that carries its key elsewhere (a
/// Square body field, a Shopify `@idempotent` directive) calls it from its
/// handler. Refusals are rendered in `wire` for a request to `path`.
pub async fn keyed(
    core: &Arc<Core>,
    caller: &str,
    key: String,
    fingerprint: Fingerprint,
    wire: Wire,
    path: &str,
    run: impl Future<Output = Response>,
) -> Response {
    let scope: Scope = Arc::new((caller.to_owned(), key));
    let now = core.clock.now();
    let begin = lock(&core.idempotency).begin(Arc::clone(&scope), fingerprint, now);
    match begin {
        Begin::Replay(response) => return response,
        Begin::Refuse(e) => return wire.error_response(path, e),
        Begin::Proceed => {}
    }
    let mut guard = InFlightGuard {
        core: Arc::clone(core),
        scope: Some(Arc::clone(&scope)),
    };
    let response = run.await;
    let (rparts, rbody) = response.into_parts();
    let rbytes = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .unwrap_or_default();
    if executed(rparts.status) || rparts.extensions.get::<Executed>().is_some() {
        lock(&core.idempotency).finish(
            &scope,
            rparts.status,
            rparts.headers.get(header::CONTENT_TYPE).cloned(),
            rbytes.clone(),
        );
        guard.scope = None;
    }
    drop(guard);
    Response::from_parts(rparts, Body::from(rbytes))
}

/// A response extension marking an answer as that of a request that
/// executed, whatever its status: a dialect whose state conflicts answer 400
/// (Stripe) sets it, so the answer is stored and replayed like a 409 is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Executed;
