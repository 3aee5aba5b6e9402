//! `omnisim serve --intercept` end to end: the JSON line gains
//! `intercept.env`, and the official Python clients (stripe, squareup,
//! ShopifyAPI from target/compat-venv), started with that environment and
//! nothing else, reach each dialect at the real hosts with no code change
//! (tests/compat/intercept_suite.py). Webhooks registered at a public HTTPS
//! address (`https://<port>.omnisim.localhost/…`) reach a loopback receiver.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use support::{Proc, post, ready, spawn};

fn serve_intercept(tag: &str) -> (Proc, Value, PathBuf) {
    let ca = std::env::temp_dir().join(format!(
        "omnisim-compat-intercept-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&ca);
    let (p, line) = spawn(
        &[
            "serve",
            "--pos-port",
            "0",
            "--shop-port",
            "0",
            "--pay-port",
            "0",
            "--stripe-port",
            "0",
            "--intercept",
            "--intercept-port",
            "0",
            "--ca-dir",
            &ca.display().to_string(),
            "--json",
        ],
        &[],
    );
    (p, serde_json::from_str(&line).expect("URLs as JSON"), ca)
}

#[test]
fn the_json_line_gains_exactly_the_intercept_environment() {
    let (_serve, urls, ca) = serve_intercept("json");
    let env = urls["intercept"]["env"].as_object().expect("intercept.env");
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    names.sort_unstable();
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
    let ca = std::fs::canonicalize(&ca).unwrap();
    assert_eq!(
        env["SSL_CERT_FILE"],
        json!(ca.join("ca.pem").display().to_string())
    );
    assert!(
        env["HTTPS_PROXY"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    // Without --intercept the line has no `intercept` key.
    let (_plain, plain) = support::serve();
    assert!(plain.get("intercept").is_none(), "{plain}");
}

#[test]
fn the_official_clients_reach_the_dialects_through_the_proxy_unchanged() {
    let Some(python) = support::compat::python() else {
        return;
    };
    let (_serve, urls, _ca) = serve_intercept("clients");
    let env = urls["intercept"]["env"].as_object().expect("intercept.env");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/intercept_suite.py");
    // Only the printed environment: no base URL, no OMNISIM_* variable.
    let mut cmd = Command::new(&python);
    cmd.arg(&script).env_clear();
    for (k, v) in env {
        cmd.env(k, v.as_str().unwrap());
    }
    let out = cmd.output().expect("run intercept_suite.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "intercept_suite.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    for must in [
        "stripe PaymentIntent.list",
        "square locations.list (sandbox host)",
        "shopify GraphQL shop",
        "CONNECT example.com:443 refused",
        "untrusted client fails TLS",
    ] {
        assert!(
            stdout.contains(&format!("ok   {must}")),
            "{must}:\n{stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_to_a_public_https_name_reaches_the_loopback_receiver() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/webhooks/shop"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let port = receiver.address().port();
    let (_serve, urls, _ca) = serve_intercept("webhooks");
    let shop = urls["shop"].as_str().unwrap().to_owned();
    let c = reqwest::Client::new();
    ready(&c, &shop).await;
    let public = format!("https://{port}.omnisim.localhost/webhooks/shop");
    let (s, sub) = post(
        &c,
        format!("{shop}/v1/webhook_subscriptions"),
        json!({"url": public, "topics": ["*"]}),
    )
    .await;
    assert_eq!(s, 200, "{sub}");
    let (s, _) = post(
        &c,
        format!("{shop}/v1/products"),
        json!({"sku": "HOOK", "title": "Hooked", "price": "5.00", "currency": "USD"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &c,
        format!("{shop}/v1/inventory/set"),
        json!({"sku": "HOOK", "location": "web", "available": 3}),
    )
    .await;
    assert_eq!(s, 200);
    support::until("a delivery on the loopback receiver", || async {
        !receiver
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    })
    .await;
    let got = receiver.received_requests().await.unwrap();
    let first = &got[0];
    assert_eq!(
        first.headers.get("x-forwarded-host").unwrap(),
        &format!("{port}.omnisim.localhost")
    );
    assert_eq!(first.headers.get("x-forwarded-proto").unwrap(), "https");
    assert!(first.headers.get("x-shopify-hmac-sha256").is_some());
    // The subscription keeps the URL as registered.
    let list = support::get(&c, format!("{shop}/v1/webhook_subscriptions")).await;
    assert_eq!(list["data"][0]["url"], json!(public));
}
