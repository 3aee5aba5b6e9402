//! The generic JSON client every typed client is built on.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorBody};
use crate::transport::{Transport, TransportError};

/// The header that makes a POST safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A base URL, a bearer key and a transport: enough to call one platform.
#[derive(Clone)]
pub struct ApiClient {
    transport: Arc<dyn Transport>,
    base_url: String,
    api_key: String,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A whole response, for callers that want the status and raw body.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl ApiClient {
    /// A client for the platform at `base_url` (no trailing slash needed).
    pub fn new(
        transport: Arc<dyn Transport>,
        base_url: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Self {
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        ApiClient {
            transport,
            base_url,
            api_key: api_key.into(),
        }
    }

    /// The platform's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a request with an optional JSON body and idempotency key, and
    /// returns the raw response whatever its status.
    pub async fn send_raw<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<RawResponse, ApiError> {
        let bearer = (header::AUTHORIZATION, format!("Bearer {}", self.api_key));
        self.send_raw_as(bearer, method, path, body, idempotency_key)
            .await
    }

    /// `POST path` with a JSON body, the key sent as `<prefix><key>` in the
    /// header `key_header` instead of as a bearer token: a dialect's own
    /// credential header, such as Shopify's `X-Shopify-Access-Token:
    /// shpat_…`. The raw response, whatever its status.
    pub async fn post_raw_keyed<B: Serialize + ?Sized>(
        &self,
        (key_header, prefix): (header::HeaderName, &str),
        path: &str,
        body: &B,
    ) -> Result<RawResponse, ApiError> {
        let auth = (key_header, format!("{prefix}{}", self.api_key));
        self.send_raw_as(auth, Method::POST, path, Some(body), None)
            .await
    }

    async fn send_raw_as<B: Serialize + ?Sized>(
        &self,
        (auth, credential): (header::HeaderName, String),
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<RawResponse, ApiError> {
        let url = format!("{}{}", self.base_url, path);
        let mut builder = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(auth, credential)
            .header(header::ACCEPT, "application/json");
        if let Some(key) = idempotency_key {
            builder = builder.header(IDEMPOTENCY_KEY, key);
        }
        let body = match body {
            Some(b) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(b).map_err(|e| ApiError::Decode {
                    path: path.to_owned(),
                    source: e,
                })?)
            }
            None => Bytes::new(),
        };
        let request = builder.body(body).map_err(|e| {
            ApiError::Transport(TransportError::Invalid {
                url: url.clone(),
                message: e.to_string(),
            })
        })?;
        let response = self.transport.send(request).await?;
        let (parts, body) = response.into_parts();
        Ok(RawResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends a request and decodes a 2xx JSON body into `T`; any other status
    /// becomes [`ApiError::Status`].
    pub async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<T, ApiError> {
        let raw = self.send_raw(method, path, body, idempotency_key).await?;
        decode(path, raw)
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send::<(), T>(Method::GET, path, None, None).await
    }

    /// `POST path` with a JSON body and an optional idempotency key.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotency_key: Option<&str>,
    ) -> Result<T, ApiError> {
        self.send(Method::POST, path, Some(body), idempotency_key)
            .await
    }
}

/// Decodes a raw response: 2xx into `T`, anything else into an [`ApiError`].
pub fn decode<T: DeserializeOwned>(path: &str, raw: RawResponse) -> Result<T, ApiError> {
    if raw.status.is_success() {
        return serde_json::from_slice(&raw.body).map_err(|e| ApiError::Decode {
            path: path.to_owned(),
            source: e,
        });
    }
    let retry_after_secs = raw
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    match serde_json::from_slice::<ErrorBody>(&raw.body) {
        Ok(body) => Err(ApiError::Status {
            status: raw.status.as_u16(),
            body: Box::new(body),
            retry_after_secs,
        }),
        Err(_) => {
            let mut text = String::from_utf8_lossy(&raw.body).into_owned();
            text.truncate(512);
            Err(ApiError::UnexpectedStatus {
                status: raw.status.as_u16(),
                text,
            })
        }
    }
}
