//! Security properties a vendor relies on:
//! - the simulators listen on 127.0.0.1 unless told otherwise;
//! - no full card number ever reaches logs, history, results or reports;
//! - the engine's webhook receivers refuse forged and stale signatures, and a
//!   genuine delivery replayed is applied once.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::{Proc, get, post, ready, serve, spawn_engine, until};

/// Every test card the pay simulator knows, plus a Mastercard.
const PANS: &[&str] = &[
    "4242424242424242",
    "4000000000000002",
    "4000000000009995",
    "4000000000009987",
    "4000000000009979",
    "4000000000000069",
    "4000000000000127",
    "4000000000000119",
    "4000000000003220",
    "5555555555554444",
];

fn assert_no_pan(what: &str, text: &str) {
    for pan in PANS {
        assert!(
            !text.contains(pan),
            "{what} holds the full card number {pan}"
        );
    }
}

fn scan_dir(dir: &Path) -> usize {
    let mut files = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files += scan_dir(&p);
        } else {
            let bytes = std::fs::read(&p).unwrap();
            assert_no_pan(&p.display().to_string(), &String::from_utf8_lossy(&bytes));
            files += 1;
        }
    }
    files
}

#[test]
fn the_simulators_listen_on_loopback_by_default() {
    let (_serve, urls) = serve();
    for p in ["pos", "shop", "pay"] {
        assert!(
            urls[p].as_str().unwrap().starts_with("http://127.0.0.1:"),
            "{p} binds {}",
            urls[p]
        );
    }
    let help = Command::new(env!("CARGO_BIN_EXE_omnisim"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: 127.0.0.1]"), "{help}");
}

#[test]
fn scenario_runs_with_cards_leave_no_card_number_in_outputs_or_logs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("omnisim-security-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_omnisim"))
        .arg("run")
        .arg(root.join("scenarios/payments"))
        .arg(root.join("scenarios/orders"))
        .arg("--out")
        .arg(&out)
        .env("OMNISIM_LOG", "debug")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_no_pan(
        "stdout of omnisim run",
        &String::from_utf8_lossy(&run.stdout),
    );
    assert_no_pan("logs of omnisim run", &String::from_utf8_lossy(&run.stderr));
    let files = scan_dir(&out);
    assert!(
        files >= 3,
        "results, report and histories were written ({files})"
    );
    // The histories did record card payments: last four digits only.
    let all = std::fs::read_dir(&out).unwrap().count();
    assert!(all > 0);
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_card_payments_leaves_no_card_number_in_logs_or_apis() {
    let log = std::env::temp_dir().join(format!("omnisim-security-log-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_omnisim"))
        .args([
            "serve",
            "--pos-port",
            "0",
            "--shop-port",
            "0",
            "--pay-port",
            "0",
            "--stripe-port",
            "0",
            "--json",
        ])
        .env("OMNISIM_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let serve = Proc(child);
    let urls: Value = serde_json::from_str(&line).unwrap();
    let (shop, pay) = (
        urls["shop"].as_str().unwrap().to_owned(),
        urls["pay"].as_str().unwrap().to_owned(),
    );
    let c = reqwest::Client::new();
    ready(&c, &shop).await;
    post(
        &c,
        format!("{shop}/v1/products"),
        json!({"sku": "MUG", "title": "Mug", "price": "12.50", "currency": "USD"}),
    )
    .await;
    post(
        &c,
        format!("{shop}/v1/inventory/set"),
        json!({"sku": "MUG", "location": "web", "available": 100}),
    )
    .await;
    let mut seen = String::new();
    for pan in PANS {
        let (_, order) = post(
            &c,
            format!("{shop}/v1/orders"),
            json!({
            "lines": [{"sku": "MUG", "quantity": 1}],
            "payment": {"type": "card", "number": pan}}),
        )
        .await;
        seen.push_str(&order.to_string());
        let (_, intent) = post(
            &c,
            format!("{pay}/v1/payment_intents"),
            json!({
            "amount": "3.00", "currency": "USD",
            "payment_method": {"type": "card", "number": pan}}),
        )
        .await;
        seen.push_str(&intent.to_string());
    }
    for base in [&shop, &pay] {
        for path in [
            "/v1/events?limit=1000",
            "/_control/snapshot",
            "/_control/deliveries",
        ] {
            seen.push_str(&get(&c, format!("{base}{path}")).await.to_string());
        }
    }
    seen.push_str(&get(&c, format!("{shop}/v1/orders")).await.to_string());
    seen.push_str(
        &get(&c, format!("{pay}/v1/payment_intents?limit=100"))
            .await
            .to_string(),
    );
    assert!(seen.contains("4242"), "the last four digits are kept");
    assert_no_pan("API answers", &seen);
    drop(serve);
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_no_pan("serve logs at trace level", &logs);
    let _ = std::fs::remove_file(&log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_refuses_forged_and_stale_signatures_and_applies_a_replay_once() {
    let (_serve, urls) = serve();
    let (pos, shop, pay) = (
        urls["pos"].as_str().unwrap().to_owned(),
        urls["shop"].as_str().unwrap().to_owned(),
        urls["pay"].as_str().unwrap().to_owned(),
    );
    let c = reqwest::Client::new();
    for base in [&pos, &shop, &pay] {
        ready(&c, base).await;
    }
    post(
        &c,
        format!("{pos}/v1/items"),
        json!({"sku": "MUG", "name": "Mug", "price": "12.50", "currency": "USD"}),
    )
    .await;
    post(
        &c,
        format!("{shop}/v1/products"),
        json!({"sku": "MUG", "title": "Mug", "price": "12.50", "currency": "USD"}),
    )
    .await;
    let now = get(&c, format!("{pos}/_control/clock")).await["now"].clone();
    post(
        &c,
        format!("{pos}/v1/inventory/changes"),
        json!({"changes": [{"type": "PHYSICAL_COUNT",
        "sku": "MUG", "location": "store-1", "quantity": 10, "occurred_at": now}]}),
    )
    .await;
    post(
        &c,
        format!("{shop}/v1/inventory/set"),
        json!({"sku": "MUG", "location": "store-1", "available": 10}),
    )
    .await;
    let (_engine, engine, state) = spawn_engine(&pos, &shop, &pay, "security-engine");
    assert!(
        engine.starts_with("http://127.0.0.1:"),
        "the engine binds loopback: {engine}"
    );
    ready(&c, &engine).await;

    // Forged: a well-formed header with a MAC made without the secret, per scheme.
    let body = json!({"id": "evt_x_forged", "seq": 99, "type": "inventory.count.updated",
        "occurred_at": now, "data": {}});
    let stale_t = 1_000_000_000; // 2001: long past the 300 s tolerance.
    let forgeries: [(&str, &str, String); 4] = [
        (
            "pos",
            "x-square-hmacsha256-signature",
            "Zm9yZ2Vk".to_owned(),
        ),
        (
            "shop",
            "x-shopify-hmac-sha256",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
        (
            "pay",
            "stripe-signature",
            format!("t={},v1={}", chrono_now_secs(&now), "0".repeat(64)),
        ),
        (
            "pay",
            "stripe-signature",
            format!("t={stale_t},v1={}", "0".repeat(64)),
        ),
    ];
    for (platform, header, value) in &forgeries {
        let r = c
            .post(format!("{engine}/webhooks/{platform}"))
            .header(*header, value)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{platform} accepted {header}: {value}");
    }
    let r = c
        .post(format!("{engine}/webhooks/shop"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no signature at all");
    let status = get(&c, format!("{engine}/status")).await;
    assert_eq!(status["counters"]["rejected_signatures"], 5);

    // Replayed: the POS delivers every webhook twice; the sale applies once.
    let (s, _) = post(
        &c,
        format!("{pos}/_control/faults"),
        json!({"webhooks": {"duplicate_rate": 1.0, "duplicate_simultaneous": true}}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = post(
        &c,
        format!("{pos}/v1/sales"),
        json!({"location": "store-1",
        "lines": [{"sku": "MUG", "quantity": 2}],
        "tenders": [{"type": "cash", "amount": "25.00"}]}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    until("the sale to reach the shop", || async {
        get(&c, format!("{shop}/v1/inventory/MUG?location=store-1")).await["available"] == 8
    })
    .await;
    until("the duplicate to be seen", || async {
        get(&c, format!("{engine}/status")).await["counters"]["duplicates"]
            .as_i64()
            .unwrap_or(0)
            >= 1
    })
    .await;
    assert_eq!(
        get(&c, format!("{shop}/v1/inventory/MUG?location=store-1")).await["available"],
        8,
        "applied once"
    );
    let _ = std::fs::remove_dir_all(&state);
}

/// Unix seconds of the simulators' clock reading (RFC 3339).
fn chrono_now_secs(now: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(now.as_str().unwrap())
        .unwrap()
        .timestamp()
}
