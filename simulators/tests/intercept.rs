//! The intercepting proxy over real loopback sockets: TLS for the simulated
//! hosts verified against the local CA, requests answered by each platform's
//! own router (auth, faults and error shapes of its dialect), every other
//! host refused and named, and nothing dialled upstream.
//!
//! Each call below is answered by whatever the dialect serves today: the
//! assertions are on who answered (the wire's shape and status), so they hold
//! as the dialects fill in. Add a call to `CALLS` to cover more.

use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use omnisim_api::common::Faults;
use omnisim_simulators::intercept::{InterceptConfig, client};
use omnisim_simulators::serve::{self, Running, ServeConfig};
use serde_json::Value;

const KEY: &str = "test_key";

fn ca_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("omnisim-intercept-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn start(tag: &str) -> Running {
    serve::start(ServeConfig {
        bind: [127, 0, 0, 1].into(),
        pos_port: 0,
        shop_port: 0,
        pay_port: 0,
        stripe_port: 0,
        api_key: KEY.into(),
        seed: 1,
        delay_scale: 60,
        retention: Default::default(),
        intercept: Some(InterceptConfig {
            port: 0,
            ca_dir: ca_dir(tag),
        }),
        webhook_hosts: Vec::new(),
    })
    .await
    .expect("serve with intercept")
}

fn proxy_addr(running: &Running) -> SocketAddr {
    let i = running.urls.intercept.as_ref().expect("intercept urls");
    i.proxy_url()
        .trim_start_matches("http://")
        .parse()
        .expect("proxy address")
}

fn roots(running: &Running) -> rustls::RootCertStore {
    let i = running.urls.intercept.as_ref().expect("intercept urls");
    let pem = std::fs::read_to_string(i.ca_cert()).expect("ca.pem");
    client::roots(&pem).expect("roots")
}

/// One request through the proxy to `host`: status and JSON body.
async fn call(
    running: &Running,
    host: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut sender = client::connect(proxy_addr(running), host, roots(running))
        .await
        .unwrap_or_else(|e| panic!("tunnel to {host}: {e}"));
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::new())).unwrap();
    let (status, _, body) = client::send(&mut sender, req).await.expect("answer");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

const STRIPE_AUTH: (&str, &str) = ("authorization", "Bearer sk_test_test_key");
const SHOPIFY_AUTH: (&str, &str) = ("x-shopify-access-token", "shpat_test_key");
const SQUARE_AUTH: (&str, &str) = ("authorization", "Bearer EAAAtest_key");

/// A dialect answered: a 2xx, or an error in that dialect's own shape.
fn in_shape(host: &str, status: StatusCode, body: &Value) {
    let shaped = if host == "api.stripe.com" {
        body["error"]["type"].is_string()
    } else if host.ends_with(".myshopify.com") {
        body["errors"].is_string() || body["errors"].is_array() || body["errors"].is_object()
    } else {
        body["errors"][0]["category"].is_string()
    };
    assert!(
        status.is_success() || shaped,
        "{host}: {status} {body} is neither a 2xx nor the dialect's error shape"
    );
}

/// Calls a connector makes, by host; whatever is served today answers 2xx,
/// the rest the dialect's own 404.
const CALLS: &[(&str, &str)] = &[
    ("api.stripe.com", "/v1/payment_intents?limit=1"),
    ("api.stripe.com", "/v1/events?limit=1"),
    ("omnisim.myshopify.com", "/admin/api/2026-01/shop.json"),
    ("omnisim.myshopify.com", "/admin/api/2024-01/locations.json"),
    ("connect.squareup.com", "/v2/locations"),
    ("connect.squareupsandbox.com", "/v2/catalog/list"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_hosts_reach_their_dialects_over_tls() {
    let running = start("dialects").await;
    for (host, path) in CALLS {
        let auth = match *host {
            "api.stripe.com" => STRIPE_AUTH,
            h if h.ends_with(".myshopify.com") => SHOPIFY_AUTH,
            _ => SQUARE_AUTH,
        };
        let (status, body) = call(&running, host, Method::GET, path, &[auth]).await;
        in_shape(host, status, &body);
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{host}{path}: {body}");
    }
    // Stripe's shape for an unknown call, from the Stripe router itself.
    let (status, body) = call(
        &running,
        "api.stripe.com",
        Method::GET,
        "/v1/no_such_thing",
        &[STRIPE_AUTH],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "resource_missing");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_the_dialects_own() {
    let running = start("auth").await;
    let (status, body) = call(&running, "api.stripe.com", Method::GET, "/v1/charges", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let live = ("authorization", "Bearer sk_live_nope");
    let (status, body) = call(
        &running,
        "api.stripe.com",
        Method::GET,
        "/v1/charges",
        &[live],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].as_str().unwrap().contains("live"));
    let (status, body) = call(
        &running,
        "any-shop.myshopify.com",
        Method::GET,
        "/admin/api/2026-01/shop.json",
        &[("x-shopify-access-token", "shpat_wrong")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["errors"].is_string(), "{body}");
    let (status, body) = call(
        &running,
        "connect.squareup.com",
        Method::GET,
        "/v2/locations",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errors"][0]["category"], "AUTHENTICATION_ERROR");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_api_beside_a_dialect_is_not_on_the_real_host() {
    let running = start("native").await;
    for (host, path, auth) in [
        ("omnisim.myshopify.com", "/v1/inventory/MUG", SHOPIFY_AUTH),
        ("omnisim.myshopify.com", "/_control/snapshot", SHOPIFY_AUTH),
        ("connect.squareup.com", "/v1/items", SQUARE_AUTH),
    ] {
        let (status, body) = call(&running, host, Method::GET, path, &[auth]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{host}{path}: {body}");
        in_shape(host, status, &body);
    }
    // The shop's and POS's health answers through their hosts.
    let (status, body) = call(
        &running,
        "omnisim.myshopify.com",
        Method::GET,
        "/healthz",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["platform"], "shop");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_layer_applies_through_the_proxy() {
    let running = start("faults").await;
    running
        .sims
        .pay
        .core
        .set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let (status, body) = call(
        &running,
        "api.stripe.com",
        Method::GET,
        "/v1/payment_intents",
        &[STRIPE_AUTH],
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["type"], "api_error");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hosts_are_refused_and_named() {
    let running = start("refused").await;
    for host in ["example.com", "files.stripe.com", "a.b.myshopify.com"] {
        match client::connect(proxy_addr(&running), host, roots(&running)).await {
            Err(client::ClientError::Refused { status, body }) => {
                assert_eq!(status, StatusCode::FORBIDDEN);
                assert!(body.contains(&format!("`{host}`")), "{body}");
                assert!(body.contains("api.stripe.com"), "{body}");
            }
            other => panic!("{host}: {other:?}"),
        }
    }
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_ca_fails_tls() {
    let running = start("untrusted").await;
    // A CA of its own, in another folder: not the one serving.
    let other = omnisim_simulators::intercept::LocalCa::load_or_create(&ca_dir("other")).unwrap();
    let roots = client::roots(other.cert_pem()).unwrap();
    match client::connect(proxy_addr(&running), "api.stripe.com", roots).await {
        Err(client::ClientError::Tls(e)) => {
            assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
        }
        other => panic!(
            "expected a TLS failure, got {:?}",
            other.map(|_| "a tunnel")
        ),
    }
    running.shutdown().await.unwrap();
}

/// The proxy has no upstream: not even a loopback target is dialled, by
/// CONNECT or as a plain proxy request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_dialled_upstream() {
    let running = start("upstream").await;
    let bait = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    bait.set_nonblocking(true).unwrap();
    let port = bait.local_addr().unwrap().port();
    let proxy = proxy_addr(&running);
    for host in ["127.0.0.1", "localhost"] {
        let tcp = tokio::net::TcpStream::connect(proxy).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .unwrap();
        tokio::spawn(conn.with_upgrades());
        let authority = format!("{host}:{port}");
        let connect = Request::builder()
            .method(Method::CONNECT)
            .uri(&authority)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let r = send.send_request(connect).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let absolute = Request::builder()
            .method(Method::GET)
            .uri(format!("http://{authority}/"))
            .header(http::header::HOST, &authority)
            .body(Full::new(Bytes::new()))
            .unwrap();
        send.ready().await.unwrap();
        let r = send.send_request(absolute).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    // Plain HTTP to a simulated host is refused too (HTTPS only).
    let tcp = tokio::net::TcpStream::connect(proxy).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let r = send
        .send_request(
            Request::get("http://api.stripe.com/v1/charges")
                .header(http::header::HOST, "api.stripe.com")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    match bait.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the proxy connected upstream: {other:?}"),
    }
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_environment_names_the_proxy_the_ca_and_the_credentials() {
    let running = start("env").await;
    let env = &running.urls.intercept.as_ref().unwrap().env;
    let names: Vec<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "CURL_CA_BUNDLE",
            "HTTPS_PROXY",
            "NODE_EXTRA_CA_CERTS",
            "PYTHONPATH",
            "REQUESTS_CA_BUNDLE",
            "SHOPIFY_ACCESS_TOKEN",
            "SHOPIFY_API_SECRET",
            "SHOPIFY_API_VERSION",
            "SHOPIFY_SHOP_DOMAIN",
            "SQUARE_ACCESS_TOKEN",
            "SQUARE_ENVIRONMENT",
            "SSL_CERT_FILE",
            "STRIPE_API_KEY",
            "https_proxy",
        ]
    );
    let bundle = std::fs::read_to_string(&env["SSL_CERT_FILE"]).unwrap();
    assert_eq!(
        bundle.matches("BEGIN CERTIFICATE").count(),
        1,
        "the omnisim CA alone"
    );
    assert!(
        PathBuf::from(&env["PYTHONPATH"])
            .join("sitecustomize.py")
            .exists()
    );
    assert_eq!(env["STRIPE_API_KEY"], "sk_test_test_key");
    running.shutdown().await.unwrap();
}
