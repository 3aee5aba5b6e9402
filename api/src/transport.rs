//! How requests reach a platform: a [`Transport`] sends an `http::Request` and
//! returns an `http::Response`, whole.
//!
//! [`HttpTransport`] goes over real sockets (real-time mode). The harness has an
//! in-process transport that hands the request to a simulator's axum `Router`
//! after a simulated network delay (virtual-time mode). Clients, the engine and
//! the webhook dispatcher only ever see the trait, so both modes share one path.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

/// A boxed, sendable future, as [`Transport::send`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one request and yields its whole response.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request`, whose URI is absolute (`http://host:port/path`).
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>>;
}

/// A request that got no HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made: the request was certainly not applied.
    #[error("could not connect to `{url}`: {message}")]
    Connect {
        /// The request URL.
        url: String,
        /// Why.
        message: String,
    },
    /// No answer came in time: the request may or may not have been applied.
    #[error("no answer from `{url}` within {timeout_ms} ms")]
    Timeout {
        /// The request URL.
        url: String,
        /// The timeout that ran out.
        timeout_ms: u64,
    },
    /// The connection failed after the request was sent: outcome unknown.
    #[error("`{url}` failed mid-request: {message}")]
    Broken {
        /// The request URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The request could not be built (bad URL or header).
    #[error("invalid request to `{url}`: {message}")]
    Invalid {
        /// The request URL.
        url: String,
        /// Why.
        message: String,
    },
}

impl TransportError {
    /// True when the request may have been applied (history records `info`).
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout { .. } | TransportError::Broken { .. }
        )
    }
}

/// A [`Transport`] over real HTTP/1.1 sockets, built on `reqwest`.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpTransport {
    /// A transport with a 1 s connect timeout and the given total timeout.
    pub fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(timeout)
            .pool_max_idle_per_host(64)
            .build()
            .expect("a reqwest client without TLS always builds");
        HttpTransport { client, timeout }
    }
}

impl Default for HttpTransport {
    /// Ten seconds in total, as Square allows a webhook receiver.
    fn default() -> Self {
        HttpTransport::new(Duration::from_secs(10))
    }
}

impl Transport for HttpTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let client = self.client.clone();
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        Box::pin(async move {
            let url = request.uri().to_string();
            let request =
                reqwest::Request::try_from(request).map_err(|e| TransportError::Invalid {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
            let response = client
                .execute(request)
                .await
                .map_err(|e| classify(&url, timeout_ms, e))?;
            let mut builder = http::Response::builder().status(response.status());
            if let Some(headers) = builder.headers_mut() {
                headers.extend(response.headers().clone());
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| classify(&url, timeout_ms, e))?;
            builder.body(body).map_err(|e| TransportError::Broken {
                url,
                message: e.to_string(),
            })
        })
    }
}

fn classify(url: &str, timeout_ms: u64, e: reqwest::Error) -> TransportError {
    let url = url.to_owned();
    if e.is_timeout() {
        TransportError::Timeout { url, timeout_ms }
    } else if e.is_connect() {
        TransportError::Connect {
            url,
            message: e.to_string(),
        }
    } else {
        TransportError::Broken {
            url,
            message: e.to_string(),
        }
    }
}
