//! A minimal HTTPS client through the intercepting proxy, as a connector's
//! HTTP library makes it: `CONNECT host:443`, then TLS verified against the
//! given roots, then HTTP/1.1 in the tunnel. Used by the tests and by
//! `omnisim bench`; built on hyper and rustls, nothing hand-rolled.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

/// Why a tunnel could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The proxy could not be reached.
    #[error("cannot reach the proxy: {0}")]
    Io(#[from] std::io::Error),
    /// HTTP failed on the way.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The proxy refused the CONNECT.
    #[error("the proxy refused CONNECT with {status}: {body}")]
    Refused {
        /// Its status.
        status: StatusCode,
        /// Its body.
        body: String,
    },
    /// The TLS handshake failed (an untrusted certificate, for one).
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    /// The host or the roots are not usable.
    #[error("{0}")]
    Invalid(String),
}

/// Root certificates from a PEM bundle (such as the CA's `ca.pem`).
pub fn roots(pem: &str) -> Result<RootCertStore, ClientError> {
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| ClientError::Invalid(format!("bad PEM: {e}")))?;
        store
            .add(cert)
            .map_err(|e| ClientError::Invalid(format!("bad root: {e}")))?;
    }
    Ok(store)
}

/// Opens a tunnel to `host:443` through the proxy at `proxy`, verifies the
/// host's certificate against `roots`, and returns an HTTP/1.1 sender over
/// it (keep-alive: send request after request).
pub async fn connect(
    proxy: SocketAddr,
    host: &str,
    roots: RootCertStore,
) -> Result<SendRequest<Full<Bytes>>, ClientError> {
    let tcp = TcpStream::connect(proxy).await?;
    let _ = tcp.set_nodelay(true);
    let (mut send, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tcp)).await?;
    let conn = tokio::spawn(conn.with_upgrades());
    let authority = format!("{host}:443");
    let connect = Request::builder()
        .method(Method::CONNECT)
        .uri(&authority)
        .header(http::header::HOST, &authority)
        .body(Empty::new())
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    let response = send.send_request(connect).await?;
    if response.status() != StatusCode::OK {
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        conn.abort();
        return Err(ClientError::Refused { status, body });
    }
    let upgraded = hyper::upgrade::on(response).await?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ClientError::Invalid(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| ClientError::Invalid(format!("`{host}`: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, TokioIo::new(upgraded))
        .await
        .map_err(ClientError::Tls)?;
    let (sender, conn) = http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends one request on `sender` and reads the whole answer.
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, http::HeaderMap, Bytes), ClientError> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok((parts.status, parts.headers, body))
}
