//! `omnisim serve` as a real child process on free loopback ports.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Served {
    child: Child,
    urls: serde_json::Value,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
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
            "--api-key",
            "sekret",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn omnisim serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("first line");
    let urls: serde_json::Value = serde_json::from_str(&line).expect("a JSON line of URLs");
    Served { child, urls }
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} never became ready");
}

#[tokio::test]
async fn serve_answers_on_real_ports_and_stops_on_sigterm() {
    let mut served = serve();
    let client = reqwest::Client::new();
    assert_eq!(served.urls["api_key"], "sekret");
    for name in ["pos", "shop", "pay"] {
        let base = served.urls[name].as_str().unwrap().to_owned();
        wait_ready(&client, &base).await;
        let r = client
            .get(format!("{base}/v1/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        let r = client
            .get(format!("{base}/v1/events"))
            .bearer_auth("sekret")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let doc: serde_json::Value = client
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{name}");
        assert!(doc["paths"]["/v1/events"].is_object(), "{name}");
        // A body over 1 MiB is refused with 413 and a JSON error.
        let big = format!(
            "{{\"url\":\"{}\",\"topics\":[\"*\"]}}",
            "x".repeat(1_100_000)
        );
        let r = client
            .post(format!("{base}/v1/webhook_subscriptions"))
            .bearer_auth("sekret")
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{name}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "body_too_large");
    }
    let pid = served.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    for _ in 0..600 {
        if let Some(code) = served.child.try_wait().unwrap() {
            assert!(code.success(), "serve exited with {code}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("serve did not stop on SIGTERM");
}
