//! Helpers shared by the root tests that drive `omnisim` as a real child
//! process over loopback. Readiness is polled; nothing sleeps a fixed time.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub mod compat;

pub const KEY: &str = "test_key";

/// A child process, killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `omnisim ARGS`, returning it and its first stdout line.
pub fn spawn(args: &[&str], envs: &[(&str, String)]) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnisim"));
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn omnisim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("first line");
    (Proc(child), line)
}

/// `omnisim serve` on free ports; its URLs as JSON.
pub fn serve() -> (Proc, Value) {
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
            "--json",
        ],
        &[],
    );
    (p, serde_json::from_str(&line).expect("URLs as JSON"))
}

/// Polls `f` every 50 ms for up to 30 s.
pub async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits for `base/healthz` to answer 200.
pub async fn ready(c: &reqwest::Client, base: &str) {
    until(&format!("{base}/healthz"), || async {
        c.get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// POSTs JSON with the API key; status and JSON body.
pub async fn post(c: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    post_keyed(c, url, body, None).await
}

/// POSTs JSON with the API key and an optional idempotency key.
pub async fn post_keyed(
    c: &reqwest::Client,
    url: String,
    body: Value,
    idempotency_key: Option<&str>,
) -> (u16, Value) {
    let mut r = c.post(url).bearer_auth(KEY).json(&body);
    if let Some(k) = idempotency_key {
        r = r.header("idempotency-key", k);
    }
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// GETs JSON with the API key.
pub async fn get(c: &reqwest::Client, url: String) -> Value {
    c.get(url)
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

/// Spawns `omnisim engine` as a connector against the three simulators, with
/// the contract's environment and a fresh state directory named by `tag`,
/// returning it, the URL it printed and its state directory.
pub fn spawn_engine(
    pos: &str,
    shop: &str,
    pay: &str,
    tag: &str,
) -> (Proc, String, std::path::PathBuf) {
    let state = std::env::temp_dir().join(format!("omnisim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let envs = [
        ("OMNISIM_POS_URL", pos.to_owned()),
        ("OMNISIM_SHOP_URL", shop.to_owned()),
        ("OMNISIM_PAY_URL", pay.to_owned()),
        ("OMNISIM_API_KEY", KEY.to_owned()),
        ("OMNISIM_CONNECTOR_PORT", "0".to_owned()),
        ("OMNISIM_STATE_DIR", state.display().to_string()),
    ];
    let (engine, line) = spawn(&["engine"], &envs);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the engine prints its URL")
        .to_owned();
    (engine, url, state)
}
