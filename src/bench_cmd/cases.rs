//! The benchmark cases. Each runs `ctx.runs` times and returns table rows.
//!
//! - **suite**: every scenario under `scenarios/`, in process (load, run,
//!   judge, render history) and as a whole `omnisim run` process; simulated
//!   time covered over wall time.
//! - **flash-sale**: a scenario made here (10,000 checkouts over 1,000 SKUs,
//!   one every 60 simulated ms) run through the harness runner, the engine and
//!   every checker, like any shipped scenario.
//! - **http**: `omnisim serve`'s stack on loopback (auth, rate limiter, fault
//!   layer, idempotency with a fresh key per request, commit, event log,
//!   webhook delivery to a subscribed sink) against a plain axum handler that
//!   returns static JSON: the ceiling, measured in the same run.
//! - **intercept**: the same dialect requests (a Stripe intent, a Square
//!   read) over plain HTTP to the loopback base URL and through the
//!   intercepting proxy to the real host (CONNECT, TLS against the local CA,
//!   keep-alive tunnels), in one run on one stack.
//! - **peers**: the same load on the `wiremock` crate in process and, when
//!   `benches/peers/start.sh` has started them, WireMock standalone and
//!   Mountebank.
//! - **memory**: in fresh child processes, RSS growth under sustained adjusts
//!   with retention configured, and RSS with 1M orders held.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use omnisim_api::{ApiClient, HttpTransport, Transport};
use omnisim_harness::{suite, validate};
use omnisim_reports::Status;
use omnisim_simulators::serve::{self, ServeConfig};
use omnisim_simulators::{Retention, Simulators};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use super::load::{self, Measured, Spec, Stop, Target};
use super::machine::{peak_rss_bytes, rss_bytes};
use super::{Ctx, Row, Verdict, median};

const KEY: &str = "bench_key";
const CARD: &str = "4242424242424242";

fn runtime(threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a tokio runtime builds")
}

fn verdict(ok: bool) -> Verdict {
    if ok { Verdict::Met } else { Verdict::Missed }
}

fn not_measured(case: &'static str, measure: &str, why: String) -> Row {
    Row {
        case,
        measure: measure.to_owned(),
        figure: "—".to_owned(),
        runs: String::new(),
        target: why,
        verdict: Verdict::NotMeasured,
    }
}

fn secs(x: f64) -> String {
    if x < 1.0 {
        format!("{:.0} ms", x * 1000.0)
    } else {
        format!("{x:.2} s")
    }
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn range(runs: usize, lo: String, hi: String) -> String {
    if runs == 1 {
        "1 run".to_owned()
    } else {
        format!("{runs} runs ({lo} – {hi})")
    }
}

// ------------------------------------------------------------------ suite

/// The shipped suite in virtual time.
pub fn suite(ctx: &Ctx) -> Vec<Row> {
    const CASE: &str = "suite";
    let files = match suite::discover(std::slice::from_ref(&ctx.scenarios)) {
        Ok(f) if !f.is_empty() => f,
        _ => {
            return vec![not_measured(
                CASE,
                "whole suite",
                format!(
                    "no scenarios at `{}` (--scenarios)",
                    ctx.scenarios.display()
                ),
            )];
        }
    };
    let loaded = match suite::load_all(&files) {
        Ok(l) => l,
        Err(e) => {
            return vec![not_measured(
                CASE,
                "whole suite",
                format!("{} scenario(s) do not load", e.len()),
            )];
        }
    };
    let (mut walls, mut passed, mut sim_ms) = (Vec::new(), 0, 0i64);
    for _ in 0..ctx.runs {
        let t = Instant::now(); // determinism-ok: benchmark
        let (mut p, mut span) = (0, 0i64);
        for l in &loaded {
            let j = suite::run_one(l, None);
            if j.result.status == Status::Pass {
                p += 1;
            }
            span += j.result.sim_span_ms;
            std::hint::black_box(&j.history_jsonl);
        }
        walls.push(t.elapsed().as_secs_f64()); // determinism-ok: benchmark
        passed = p;
        sim_ms = span;
    }
    let (wall, lo, hi) = median(&mut walls);
    let ratio = sim_ms as f64 / 1000.0 / wall.max(1e-9);
    let mut rows = vec![
        Row {
            target: "all pass".into(),
            verdict: verdict(passed == loaded.len()),
            ..Row::info(
                CASE,
                "scenarios passed",
                format!("{passed}/{}", loaded.len()),
            )
        },
        Row {
            runs: range(ctx.runs, secs(lo), secs(hi)),
            target: "< 2 s".into(),
            verdict: verdict(wall < 2.0),
            ..Row::info(
                CASE,
                "wall time, whole suite in process (load, run, check, history)",
                secs(wall),
            )
        },
        Row {
            target: "≥ 10,000×".into(),
            verdict: verdict(ratio >= 10_000.0),
            ..Row::info(
                CASE,
                format!(
                    "simulated : wall ({:.1} simulated hours)",
                    sim_ms as f64 / 3_600_000.0
                ),
                format!("{}×", thousands(ratio)),
            )
        },
    ];
    // The same as a user runs it: one `omnisim run` process, outputs written.
    let out_dir = std::env::temp_dir().join(format!("omnisim-bench-{}", std::process::id()));
    let mut procs = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        for _ in 0..ctx.runs {
            let t = Instant::now(); // determinism-ok: benchmark
            let ok = Command::new(&exe)
                .arg("run")
                .arg(&ctx.scenarios)
                .arg("--out")
                .arg(&out_dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                procs.push(t.elapsed().as_secs_f64()); // determinism-ok: benchmark
            }
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
    if procs.is_empty() {
        rows.push(not_measured(
            CASE,
            "wall time, `omnisim run scenarios/` process",
            "the run process failed".into(),
        ));
    } else {
        let n = procs.len();
        let (w, lo, hi) = median(&mut procs);
        rows.push(Row {
            runs: range(n, secs(lo), secs(hi)),
            target: "< 2 s".into(),
            verdict: verdict(w < 2.0),
            ..Row::info(
                CASE,
                "wall time, `omnisim run scenarios/` as a process (writes results)",
                secs(w),
            )
        });
    }
    rows
}

// ------------------------------------------------------------- flash sale

/// SKUs, orders and units per SKU of the generated flash sale.
const FLASH_SKUS: usize = 1_000;
const FLASH_ORDERS: usize = 10_000;
const FLASH_STOCK: usize = 8;

/// The flash-sale scenario: 10,000 single-unit checkouts over 1,000 SKUs with
/// 8 units each, one every 60 simulated ms from 10:00 (10 simulated minutes).
/// The 9th and 10th order for each SKU must be refused as out of stock.
pub fn flash_sale_toml() -> String {
    let mut s = String::with_capacity(2_000_000);
    s.push_str(
        "name = \"Bench: flash sale of 10,000 orders over 1,000 SKUs\"\n\
         description = \"Generated by omnisim bench.\"\n\
         tags = [\"bench\"]\nseed = 10000\n\n\
         [merchant]\n\
         locations = [{ id = \"flagship\", name = \"Flagship store\", kind = \"store\" }]\n\
         pos = { sell_when_out_of_stock = \"block\" }\n\n",
    );
    for k in 0..FLASH_SKUS {
        s.push_str(&format!(
            "[[merchant.catalog]]\nsku = \"SKU-{k:04}\"\ntitle = \"Item {k}\"\n\
             price = \"20.00\"\nstock = {{ \"flagship\" = {FLASH_STOCK} }}\n\n"
        ));
    }
    for i in 0..FLASH_ORDERS {
        let when = if i == 0 {
            "at = \"10:00:00\"".to_owned()
        } else {
            "after = \"60ms\"".to_owned()
        };
        let sku = i % FLASH_SKUS;
        let refused = i / FLASH_SKUS >= FLASH_STOCK;
        s.push_str(&format!(
            "[[step]]\n{when}\nactor = \"shop\"\naction = \"checkout\"\n\
             customer = \"c{i:05}\"\nlines = {{ SKU-{sku:04} = 1 }}\nlocation = \"flagship\"\n{}\n",
            if refused {
                "expect_error = \"out_of_stock\"\n"
            } else {
                ""
            }
        ));
    }
    s
}

/// The flash sale through the harness runner, the engine and the checkers.
pub fn flash_sale(ctx: &Ctx) -> Vec<Row> {
    const CASE: &str = "flash-sale";
    let src = flash_sale_toml();
    let loaded = match validate::load_str(std::path::Path::new("bench/flash-sale.toml"), &src) {
        Ok(l) => l,
        Err(e) => {
            let first = e.first().map(ToString::to_string).unwrap_or_default();
            return vec![not_measured(
                CASE,
                "flash sale",
                format!("does not load: {first}"),
            )];
        }
    };
    let (mut walls, mut status, mut oversell, mut reasons) =
        (Vec::new(), Status::Pass, Status::Pass, Vec::new());
    for _ in 0..ctx.runs {
        let t = Instant::now(); // determinism-ok: benchmark
        let j = suite::run_one(&loaded, None);
        walls.push(t.elapsed().as_secs_f64()); // determinism-ok: benchmark
        if j.result.status != Status::Pass {
            status = j.result.status;
            reasons = j.result.reasons.clone();
        }
        if let Some(c) = j.result.checks.iter().find(|c| c.name == "no_oversell")
            && c.status != Status::Pass
        {
            oversell = c.status;
        }
    }
    let (wall, lo, hi) = median(&mut walls);
    let mut rows = vec![
        Row {
            runs: range(ctx.runs, secs(lo), secs(hi)),
            target: "< 3 s".into(),
            verdict: verdict(wall < 3.0),
            ..Row::info(
                CASE,
                "wall time: 10,000 orders, 1,000 SKUs, 10 simulated min, engine + checkers",
                secs(wall),
            )
        },
        Row {
            target: "none oversold, all checks pass".into(),
            verdict: verdict(status == Status::Pass && oversell == Status::Pass),
            ..Row::info(
                CASE,
                "verdict: 8,000 orders taken, 2,000 refused out of stock",
                format!("{status:?}, no_oversell {oversell:?}").to_lowercase(),
            )
        },
    ];
    if let Some(r) = reasons.first() {
        rows.push(Row::info(CASE, "first failure", r.clone()));
    }
    rows
}

// ------------------------------------------------------------------- http

/// A plain axum server answering static JSON: the ceiling.
async fn ceiling() -> std::io::Result<String> {
    let app = Router::new().route(
        "/v1/inventory/adjust",
        post(|| async {
            axum::Json(json!({"sku": "HOT", "location": "web", "available": 1, "on_hand": 1}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// A webhook receiver that accepts everything.
async fn sink() -> std::io::Result<String> {
    let app = Router::new().route("/hook", post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// Running simulators set up for load: a product with plenty of stock, and
/// (with `webhooks`) every platform's webhooks subscribed to a sink.
struct Stack {
    running: serve::Running,
}

async fn stack(retention: Retention, webhooks: bool) -> Result<Stack, String> {
    let running = serve::start(ServeConfig {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        pos_port: 0,
        shop_port: 0,
        pay_port: 0,
        stripe_port: 0,
        api_key: KEY.to_owned(),
        seed: 1,
        delay_scale: 60,
        retention,
        intercept: None,
        webhook_hosts: Vec::new(),
    })
    .await
    .map_err(|e| e.to_string())?;
    let hook = sink().await.map_err(|e| e.to_string())?;
    let t: Arc<dyn Transport> = Arc::new(HttpTransport::new(Duration::from_secs(10)));
    let urls = &running.urls;
    let client = |u: &str| ApiClient::new(Arc::clone(&t), u, KEY);
    let subscribed: &[&String] = if webhooks {
        &[&urls.pos, &urls.shop, &urls.pay]
    } else {
        &[]
    };
    for base in subscribed {
        client(base)
            .post::<_, Value>(
                "/v1/webhook_subscriptions",
                &json!({"url": hook, "topics": ["*"]}),
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    let shop = client(&urls.shop);
    stock_hot_item(&shop).await?;
    Ok(Stack { running })
}

fn adjust_target(shop: &str) -> Target {
    let mut t = Target::post_json(
        shop,
        "/v1/inventory/adjust",
        Some(KEY),
        &json!({"sku": "HOT", "location": "web", "delta": 1, "reason": "correction"}),
    );
    t.idempotency_keys = true;
    t
}

fn order_target(shop: &str) -> Target {
    let mut t = Target::post_json(
        shop,
        "/v1/orders",
        Some(KEY),
        &json!({"lines": [{"sku": "HOT", "quantity": 1}],
                "payment": {"type": "card", "number": CARD}}),
    );
    t.idempotency_keys = true;
    t
}

fn intent_target(pay: &str) -> Target {
    let mut t = Target::post_json(
        pay,
        "/v1/payment_intents",
        Some(KEY),
        &json!({"amount": "12.50", "currency": "USD", "capture_method": "manual",
                "payment_method": {"type": "card", "number": CARD}}),
    );
    t.idempotency_keys = true;
    t
}

/// The same intent through the Stripe dialect: a form, created and
/// confirmed in one call, as a connector on the official client sends it.
fn stripe_intent_target(api_base: &str, api_key: &str) -> Target {
    let mut t = Target::post_json(api_base, "/v1/payment_intents", Some(api_key), &json!({}));
    t.headers[0].1 = http::HeaderValue::from_static("application/x-www-form-urlencoded");
    t.body = bytes::Bytes::from_static(
        b"amount=1250&currency=usd&payment_method=pm_card_visa&confirm=true\
          &capture_method=manual&payment_method_types[0]=card",
    );
    t.idempotency_keys = true;
    t
}

/// The same stock adjust through the Shopify dialect, as a connector on the
/// official client sends it: Admin GraphQL `inventoryAdjustQuantities` with a
/// fresh `@idempotent(key:)` per request. The variant's inventory item and
/// the web location are looked up through the dialect first, and one
/// adjust is checked to apply (GraphQL answers 200 to a refused mutation).
async fn shopify_adjust_target(urls: &serve::Urls) -> Result<Target, String> {
    let s = &urls.dialects.shopify;
    let path = format!("/admin/api/{}/graphql.json", s.api_version);
    let transport = HttpTransport::new(Duration::from_secs(10));
    let ask = |body: Value| {
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("{}{path}", s.shop_url))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("x-shopify-access-token", s.access_token.as_str())
            .body(bytes::Bytes::from(body.to_string()));
        let sent = request.map(|r| transport.send(r));
        async move {
            let answer = sent.map_err(|e| e.to_string())?.await;
            let answer = answer.map_err(|e| e.to_string())?;
            serde_json::from_slice::<Value>(answer.body()).map_err(|e| e.to_string())
        }
    };
    let found = ask(
        json!({"query": "{ productVariants(first: 1, query: \"sku:HOT\") \
        { nodes { inventoryItem { id } } } locations(first: 10) { nodes { id name } } }"}),
    )
    .await?;
    let item = found["data"]["productVariants"]["nodes"][0]["inventoryItem"]["id"]
        .as_str()
        .ok_or_else(|| format!("no inventory item for HOT: {found}"))?
        .to_owned();
    let web = found["data"]["locations"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["name"] == "Online store")
        .and_then(|l| l["id"].as_str())
        .ok_or_else(|| format!("no web location: {found}"))?
        .to_owned();
    let body = |key: &str| {
        json!({
            "query": "mutation Adjust($input: InventoryAdjustQuantitiesInput!) \
                { inventoryAdjustQuantities(input: $input) @idempotent(key: \"KEY\") \
                { inventoryAdjustmentGroup { id } userErrors { field message } } }"
                .replace("KEY", key),
            "variables": {"input": {"name": "available", "reason": "correction",
                "changes": [{"inventoryItemId": item, "locationId": web, "delta": 1}]}},
        })
    };
    let probe = ask(body("bench-probe")).await?;
    let group = &probe["data"]["inventoryAdjustQuantities"]["inventoryAdjustmentGroup"];
    if group.is_null() {
        return Err(format!("the GraphQL adjust was refused: {probe}"));
    }
    let mut t = Target::post_json(&s.shop_url, &path, None, &body("BENCH-KEY"));
    t.headers.push((
        http::HeaderName::from_static("x-shopify-access-token"),
        http::HeaderValue::from_str(&s.access_token).map_err(|e| e.to_string())?,
    ));
    t.body_key = Some("BENCH-KEY");
    Ok(t)
}

/// Medians of repeated load runs of one target.
#[derive(Default)]
struct Series {
    rps: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    failed: u64,
    first_failure: Option<String>,
}

impl Series {
    fn add(&mut self, m: &Measured) {
        self.rps.push(m.rps());
        self.p50.push(m.p50_us as f64 / 1000.0);
        self.p99.push(m.p99_us as f64 / 1000.0);
        self.failed += m.failed;
        if self.first_failure.is_none() {
            self.first_failure.clone_from(&m.first_failure);
        }
    }
}

fn spec(ctx: &Ctx) -> Spec {
    Spec {
        connections: ctx.connections,
        warmup: Duration::from_millis(500),
        stop: Stop::After(ctx.seconds),
    }
}

fn ms(x: f64) -> String {
    format!("{x:.2} ms")
}

fn failures_row(case: &'static str, name: &str, s: &Series) -> Option<Row> {
    (s.failed > 0).then(|| Row {
        target: "0".into(),
        verdict: Verdict::Missed,
        ..Row::info(
            case,
            format!("{name}: failed requests"),
            format!(
                "{} (first: {})",
                s.failed,
                s.first_failure
                    .clone()
                    .unwrap_or_default()
                    .replace('\n', " ")
            ),
        )
    })
}

/// Throughput and latency of the simulators against the ceiling.
pub fn http(ctx: &Ctx) -> Vec<Row> {
    const CASE: &str = "http";
    let server = runtime(2);
    let client = runtime(2);
    let setup = server.block_on(async {
        let ceiling = ceiling().await.map_err(|e| e.to_string())?;
        let plain = stack(Retention::default(), false).await?;
        let hooked = stack(Retention::default(), true).await?;
        let shopify = shopify_adjust_target(&plain.running.urls).await?;
        Ok::<_, String>((ceiling, plain, hooked, shopify))
    });
    let (ceiling_url, stack, hooked, shopify) = match setup {
        Ok(s) => s,
        Err(e) => return vec![not_measured(CASE, "HTTP", format!("setup failed: {e}"))],
    };
    let targets = [
        Arc::new(Target::post_json(
            &ceiling_url,
            "/v1/inventory/adjust",
            None,
            &json!({"sku": "HOT", "location": "web", "delta": 1, "reason": "correction"}),
        )),
        Arc::new(adjust_target(&stack.running.urls.shop)),
        Arc::new(adjust_target(&hooked.running.urls.shop)),
        Arc::new(order_target(&stack.running.urls.shop)),
        Arc::new(intent_target(&stack.running.urls.pay)),
        Arc::new(stripe_intent_target(
            &stack.running.urls.dialects.stripe.api_base,
            &stack.running.urls.dialects.stripe.api_key,
        )),
        Arc::new(shopify),
    ];
    let mut series: [Series; 7] = Default::default();
    for run in 0..ctx.runs {
        for (i, t) in targets.iter().enumerate() {
            let m = client.block_on(load::run(Arc::clone(t), spec(ctx)));
            say!(
                "   run {} {:<14} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  failed {}",
                run + 1,
                [
                    "ceiling",
                    "adjust",
                    "adjust+hooks",
                    "order",
                    "intent",
                    "stripe intent",
                    "shopify adjust"
                ][i],
                m.rps(),
                m.p50_us as f64 / 1000.0,
                m.p99_us as f64 / 1000.0,
                m.failed
            );
            series[i].add(&m);
        }
    }
    let _ = server.block_on(stack.running.shutdown());
    let _ = server.block_on(hooked.running.shutdown());
    let n = ctx.runs;
    let [
        mut ceil,
        mut adj,
        mut hook,
        mut ord,
        mut pi,
        mut spi,
        mut gql,
    ] = series;
    let (c_rps, c_lo, c_hi) = median(&mut ceil.rps);
    let (c_p99, _, _) = median(&mut ceil.p99);
    let (c_p50, _, _) = median(&mut ceil.p50);
    let mut rows = vec![Row {
        runs: range(n, thousands(c_lo), thousands(c_hi)),
        ..Row::info(
            CASE,
            format!(
                "ceiling: plain axum handler, static JSON (p50 {}, p99 {})",
                ms(c_p50),
                ms(c_p99)
            ),
            format!("{} req/s", thousands(c_rps)),
        )
    }];
    for (name, s, what) in [
        (
            "stock adjust",
            &mut adj,
            "auth, rate limit, faults, fresh idempotency key, commit, event log",
        ),
        (
            "stock adjust + webhooks",
            &mut hook,
            "as above, each event signed and POSTed to a subscribed sink on loopback",
        ),
        (
            "order create",
            &mut ord,
            "as adjust, plus a card authorization over HTTP to pay: two exchanges",
        ),
        (
            "intent create, native",
            &mut pi,
            "JSON, a manual-capture card authorization on pay, fresh idempotency key",
        ),
        (
            "intent create + confirm, Stripe dialect",
            &mut spi,
            "the same through Stripe's form encoding, `pm_card_visa`, `confirm=true`",
        ),
        (
            "stock adjust, Shopify dialect",
            &mut gql,
            "Admin GraphQL `inventoryAdjustQuantities` with a fresh `@idempotent` key: parse, validate, execute",
        ),
    ] {
        let (rps, lo, hi) = median(&mut s.rps);
        let (p50, _, _) = median(&mut s.p50);
        let (p99, p99_lo, p99_hi) = median(&mut s.p99);
        let share = rps / c_rps.max(1e-9);
        rows.push(Row {
            runs: range(n, thousands(lo), thousands(hi)),
            target: "≥ 85% of ceiling".into(),
            verdict: verdict(share >= 0.85),
            ..Row::info(
                CASE,
                format!("{name} ({what})"),
                format!(
                    "{} req/s = {:.0}% of ceiling",
                    thousands(rps),
                    share * 100.0
                ),
            )
        });
        rows.push(Row {
            runs: range(n, ms(p99_lo), ms(p99_hi)),
            target: "p99 < 5 ms".into(),
            verdict: verdict(p99 < 5.0),
            ..Row::info(
                CASE,
                format!("{name}: latency p50 {} / p99", ms(p50)),
                ms(p99),
            )
        });
        rows.extend(failures_row(CASE, name, s));
    }
    rows
}

// ------------------------------------------------------------------ peers

async fn wiremock_crate() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/inventory/adjust"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"sku": "HOT", "location": "web", "available": 1, "on_hand": 1}),
            ),
        )
        .mount(&server)
        .await;
    server
}

/// An external peer: where it answers, how to start it.
struct External {
    name: &'static str,
    env: &'static str,
    default_url: &'static str,
    target_ratio: Option<f64>,
}

const EXTERNAL: &[External] = &[
    External {
        name: "WireMock standalone",
        env: "OMNISIM_BENCH_WIREMOCK_URL",
        default_url: "http://127.0.0.1:8089",
        target_ratio: Some(10.0),
    },
    External {
        name: "Mountebank",
        env: "OMNISIM_BENCH_MOUNTEBANK_URL",
        default_url: "http://127.0.0.1:4545",
        target_ratio: None,
    },
];

/// The same load on peer mock servers, with our adjust measured alongside.
pub fn peers(ctx: &Ctx) -> Vec<Row> {
    const CASE: &str = "peers";
    let server = runtime(2);
    let client = runtime(2);
    let body = json!({"sku": "HOT", "location": "web", "delta": 1, "reason": "correction"});
    let setup = server.block_on(async {
        let stack = stack(Retention::default(), false).await?;
        let wm = wiremock_crate().await;
        Ok::<_, String>((stack, wm))
    });
    let (stack, wm) = match setup {
        Ok(s) => s,
        Err(e) => return vec![not_measured(CASE, "peers", format!("setup failed: {e}"))],
    };
    let mut targets: Vec<(String, Arc<Target>, Option<f64>)> = vec![
        (
            "omnisim stock adjust (stateful: auth, idempotency, commit, event log)".into(),
            Arc::new(adjust_target(&stack.running.urls.shop)),
            None,
        ),
        (
            "`wiremock` crate 0.6 (stateless stub)".into(),
            Arc::new(Target::post_json(
                &wm.uri(),
                "/v1/inventory/adjust",
                Some(KEY),
                &body,
            )),
            Some(2.0),
        ),
    ];
    let mut rows = Vec::new();
    for ext in EXTERNAL {
        let url = std::env::var(ext.env).unwrap_or_else(|_| ext.default_url.to_owned());
        let t = Arc::new(Target::post_json(
            &url,
            "/v1/inventory/adjust",
            Some(KEY),
            &body,
        ));
        let probe = client.block_on(load::run(
            Arc::clone(&t),
            Spec {
                connections: 1,
                warmup: Duration::ZERO,
                stop: Stop::Count(1),
            },
        ));
        if probe.ok == 1 {
            targets.push((
                format!("{} (stateless stub)", ext.name),
                t,
                ext.target_ratio,
            ));
        } else {
            rows.push(not_measured(
                CASE,
                ext.name,
                format!(
                    "not running at {url} (${}): start it with `benches/peers/start.sh`",
                    ext.env
                ),
            ));
        }
    }
    let mut series: Vec<Series> = targets.iter().map(|_| Series::default()).collect();
    let mut wm_growth = Vec::new();
    for run in 0..ctx.runs {
        for (i, (name, t, _)) in targets.iter().enumerate() {
            let before = rss_bytes();
            let m = client.block_on(load::run(Arc::clone(t), spec(ctx)));
            if i == 1 {
                let grown = rss_bytes().saturating_sub(before) as f64;
                wm_growth.push(grown / (m.ok + m.failed).max(1) as f64);
            }
            say!(
                "   run {} {:<40} {:>9.0} req/s  p99 {:.2} ms  failed {}",
                run + 1,
                name,
                m.rps(),
                m.p99_us as f64 / 1000.0,
                m.failed
            );
            series[i].add(&m);
        }
    }
    let _ = server.block_on(stack.running.shutdown());
    drop(wm);
    let n = ctx.runs;
    let mut ours = 0.0;
    for (i, ((name, _, ratio), s)) in targets.iter().zip(series.iter_mut()).enumerate() {
        let (rps, lo, hi) = median(&mut s.rps);
        let (p99, _, _) = median(&mut s.p99);
        if i == 0 {
            ours = rps;
            rows.insert(
                0,
                Row {
                    runs: range(n, thousands(lo), thousands(hi)),
                    ..Row::info(
                        CASE,
                        format!("{name}, p99 {}", ms(p99)),
                        format!("{} req/s", thousands(rps)),
                    )
                },
            );
            continue;
        }
        let times = ours / rps.max(1e-9);
        let mut row = Row {
            runs: range(n, thousands(lo), thousands(hi)),
            ..Row::info(
                CASE,
                format!("{name}, p99 {}", ms(p99)),
                format!("{} req/s; omnisim is {times:.1}×", thousands(rps)),
            )
        };
        if let Some(want) = ratio {
            row.target = format!("omnisim ≥ {want}×");
            row.verdict = verdict(times >= *want);
        }
        rows.insert(i.min(rows.len()), row);
        rows.extend(failures_row(CASE, name, s));
    }
    if !wm_growth.is_empty() {
        let (g, _, _) = median(&mut wm_growth);
        rows.push(Row::info(
            CASE,
            "`wiremock` crate: RSS growth per request (it records every request)",
            format!("{:.1} KB", g / 1000.0),
        ));
    }
    rows
}

// ----------------------------------------------------------------- memory

/// The retention the sustained-load case configures: a day of keys and 30
/// days of events as the platforms keep them, each capped in count.
pub fn bench_retention() -> Retention {
    Retention {
        keys_max: 100_000,
        events_max: Some(100_000),
        ..Retention::default()
    }
}

/// RSS under sustained load and with 1M orders, each in a child process.
pub fn memory(ctx: &Ctx) -> Vec<Row> {
    const CASE: &str = "memory";
    let Ok(exe) = std::env::current_exe() else {
        return vec![not_measured(
            CASE,
            "memory",
            "cannot find own binary".into(),
        )];
    };
    let child = |which: &str, n: u64| -> Result<Value, String> {
        let out = Command::new(&exe)
            .args(["bench", "--child", which, "--child-count"])
            .arg(n.to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Value>(l).ok())
            .ok_or_else(|| format!("the child printed no result ({})", out.status))
    };
    let mut rows = Vec::new();
    let r = bench_retention();
    let requests: u64 = if ctx.quick { 200_000 } else { 1_000_000 };
    match child("sustained", requests) {
        Ok(v) => {
            let done = v["requests"].as_f64().unwrap_or(0.0).max(1.0);
            let growth = v["growth_bytes"].as_f64().unwrap_or(0.0) * 1_000_000.0 / done;
            let mb = growth / 1e6;
            rows.push(Row {
                runs: "1 run".into(),
                target: "< 50 MB".into(),
                verdict: verdict(mb < 50.0 && v["failed"].as_u64() == Some(0)),
                ..Row::info(
                    CASE,
                    format!(
                        "RSS growth per 1M adjusts over loopback after warm-up ({} measured; \
                         keys 24 h ≤ {}, events 30 d ≤ {}; webhooks to a sink)",
                        thousands(done),
                        thousands(r.keys_max as f64),
                        thousands(r.events_max.unwrap_or(0) as f64)
                    ),
                    format!("{mb:.1} MB"),
                )
            });
            rows.push(Row::info(
                CASE,
                "sustained: RSS after warm-up → end; requests/s",
                format!(
                    "{:.0} → {:.0} MB; {} req/s",
                    v["rss_before"].as_f64().unwrap_or(0.0) / 1e6,
                    v["rss_after"].as_f64().unwrap_or(0.0) / 1e6,
                    thousands(v["rps"].as_f64().unwrap_or(0.0))
                ),
            ));
        }
        Err(e) => rows.push(not_measured(CASE, "sustained load", e)),
    }
    let orders: u64 = if ctx.quick { 100_000 } else { 1_000_000 };
    match child("orders", orders) {
        Ok(v) => {
            let held = v["orders"].as_f64().unwrap_or(0.0).max(1.0);
            let rss = v["rss_after"].as_f64().unwrap_or(0.0);
            let base = v["rss_before"].as_f64().unwrap_or(0.0);
            // Past the guard: per-order growth extrapolated to 1M.
            let scaled = base + (rss - base) * 1_000_000.0 / held;
            let gib = scaled / (1u64 << 30) as f64;
            rows.push(Row {
                runs: "1 run".into(),
                target: "< 1 GiB".into(),
                verdict: verdict(gib < 1.0 && held >= 1_000_000.0),
                ..Row::info(
                    CASE,
                    format!(
                        "RSS with 1M orders held (orders, intents, events, keys: default retention){}",
                        if held < 1_000_000.0 {
                            format!("; extrapolated from {} orders", thousands(held))
                        } else {
                            String::new()
                        }
                    ),
                    format!("{:.0} MB", scaled / 1e6),
                )
            });
            rows.push(Row::info(
                CASE,
                "orders: checkouts per second in process (shop + pay routers)",
                thousands(v["rate"].as_f64().unwrap_or(0.0)),
            ));
        }
        Err(e) => rows.push(not_measured(CASE, "1M orders", e)),
    }
    // The same with the event log and keys capped: what the orders themselves cost.
    match child("orders-capped", orders) {
        Ok(v) => {
            let held = v["orders"].as_f64().unwrap_or(0.0).max(1.0);
            let grown =
                v["rss_after"].as_f64().unwrap_or(0.0) - v["rss_before"].as_f64().unwrap_or(0.0);
            rows.push(Row::info(
                CASE,
                format!(
                    "the same with events and keys capped at {} each: RSS per order held ({} orders)",
                    thousands(r.events_max.unwrap_or(0) as f64),
                    thousands(held)
                ),
                format!("{:.1} KB", grown / held / 1000.0),
            ));
        }
        Err(e) => rows.push(not_measured(CASE, "orders, capped", e)),
    }
    rows
}

/// Runs one memory case in this process and prints its JSON on stdout.
pub fn child(which: &str, n: u64) -> ExitCode {
    let result = match which {
        "sustained" => child_sustained(n),
        "orders" => child_orders(n, false),
        "orders-capped" => child_orders(n, true),
        other => Err(format!("no child case `{other}`")),
    };
    match result {
        Ok(v) => {
            say!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("omnisim bench --child {which}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn child_sustained(n: u64) -> Result<Value, String> {
    let server = runtime(2);
    let client = runtime(2);
    let stack = server.block_on(stack(bench_retention(), true))?;
    let target = Arc::new(adjust_target(&stack.running.urls.shop));
    let warm = (bench_retention().keys_max as u64) + 20_000;
    let count = |k| Spec {
        connections: 64,
        warmup: Duration::ZERO,
        stop: Stop::Count(k),
    };
    // Webhook deliveries still in flight hold memory: let them drain first.
    let settle = || std::thread::sleep(Duration::from_secs(2));
    let w = client.block_on(load::run(Arc::clone(&target), count(warm)));
    settle();
    let before = rss_bytes();
    let m = client.block_on(load::run(Arc::clone(&target), count(n)));
    settle();
    let after = rss_bytes();
    let _ = server.block_on(stack.running.shutdown());
    Ok(json!({
        "requests": m.ok + m.failed,
        "failed": m.failed + w.failed,
        "rss_before": before,
        "rss_after": after,
        "growth_bytes": after.saturating_sub(before),
        "rps": m.rps(),
        "peak": peak_rss_bytes(),
    }))
}

/// The orders case stops once the process holds this much: past the 1 GiB
/// target the figure is already a miss, and the machine is shared.
const RSS_GUARD: u64 = 3 << 30;

fn child_orders(n: u64, capped: bool) -> Result<Value, String> {
    use omnisim_simulators::inprocess::RouterTransport;
    use tower::ServiceExt;
    let rt = runtime(2);
    rt.block_on(async move {
        let transport = RouterTransport::new();
        let sims = Simulators::new(omnisim_simulators::SimulatorsConfig {
            clock: omnisim_api::Clock::real(),
            api_key: KEY.to_owned(),
            seed: 1,
            transport: Arc::new(transport.clone()),
            pay_url: "http://pay.sim".to_owned(),
            delay_scale: 60,
        });
        if capped {
            sims.set_retention(bench_retention());
        }
        transport.mount("pay.sim", sims.pay_router());
        transport.mount("shop.sim", sims.shop_router());
        let t: Arc<dyn Transport> = Arc::new(transport.clone());
        let shop = ApiClient::new(Arc::clone(&t), "http://shop.sim", KEY);
        stock_hot_item(&shop).await?;
        let before = rss_bytes();
        let started = Instant::now(); // determinism-ok: benchmark
        let router = sims.shop_router();
        let body = bytes::Bytes::from(
            json!({"lines": [{"sku": "HOT", "quantity": 1}],
                   "payment": {"type": "card", "number": CARD}})
            .to_string(),
        );
        let workers = 8u64;
        let mut tasks = Vec::new();
        for w in 0..workers {
            let router = router.clone();
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                let (mut failed, mut done) = (0u64, 0u64);
                let mut i = w;
                while i < n {
                    // Stop well past the target rather than exhaust a shared machine.
                    if i % 4096 < workers && rss_bytes() > RSS_GUARD {
                        break;
                    }
                    let req = http::Request::post("/v1/orders")
                        .header("authorization", format!("Bearer {KEY}"))
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(body.clone()))
                        .expect("a valid request");
                    match router.clone().oneshot(req).await {
                        Ok(r) if r.status().is_success() => {
                            let _ = axum::body::to_bytes(r.into_body(), usize::MAX).await;
                        }
                        _ => failed += 1,
                    }
                    i += workers;
                    done += 1;
                }
                (failed, done)
            }));
        }
        let (mut failed, mut sent) = (0, 0);
        for t in tasks {
            let (f, k) = t.await.unwrap_or((n, 0));
            failed += f;
            sent += k;
        }
        let n = sent.min(n);
        let secs = started.elapsed().as_secs_f64(); // determinism-ok: benchmark
        let after = rss_bytes();
        Ok(json!({
            "orders": n - failed.min(n),
            "failed": failed,
            "rss_before": before,
            "rss_after": after,
            "rate": n as f64 / secs.max(1e-9),
            "peak": peak_rss_bytes(),
        }))
    })
}

// ------------------------------------------------------------ exploration

/// Random 50-step cases per second on one core: `omnisim explore` with one
/// job, the default engine and random faults, shrinking excluded.
pub fn exploration(ctx: &Ctx) -> Vec<Row> {
    use omnisim_harness::explore::{self, Budget, ExploreConfig};
    const CASE: &str = "exploration";
    let cases: u64 = if ctx.quick { 100 } else { 500 };
    let (mut rates, mut step_rates, mut found, mut avg_steps) = (Vec::new(), Vec::new(), 0, 0.0);
    for run in 0..ctx.runs {
        let config = ExploreConfig {
            seed: 1 + run as u64,
            budget: Budget::Cases(cases),
            jobs: 1,
            ..ExploreConfig::default()
        };
        let report = explore::explore(&config, &|_| {});
        let secs = report.explore_time.as_secs_f64().max(1e-9);
        rates.push(report.cases as f64 / secs);
        step_rates.push(report.steps as f64 / secs);
        avg_steps = report.steps as f64 / report.cases.max(1) as f64;
        found += usize::from(report.found.is_some());
    }
    let (rate, lo, hi) = median(&mut rates);
    let (steps, _, _) = median(&mut step_rates);
    vec![
        Row {
            runs: range(ctx.runs, thousands(lo), thousands(hi)),
            target: "≥ 1,000 cases of 50 steps/s".into(),
            verdict: verdict(rate >= 1000.0 && avg_steps >= 50.0),
            ..Row::info(
                CASE,
                format!(
                    "random cases per second on one core ({cases} cases per run, \
                     up to 50 steps, {avg_steps:.1} on average; default engine, random faults)"
                ),
                format!("{rate:.1} cases/s"),
            )
        },
        Row {
            target: "≥ 50,000 steps/s".into(),
            verdict: verdict(steps >= 50_000.0),
            ..Row::info(CASE, "steps per second on one core", thousands(steps))
        },
        Row {
            target: "none".into(),
            verdict: verdict(found == 0),
            ..Row::info(
                CASE,
                "violations found under the default engine",
                found.to_string(),
            )
        },
    ]
}

/// The one product the load cases sell: `HOT` online, with stock that never
/// runs out.
async fn stock_hot_item(shop: &ApiClient) -> Result<(), String> {
    shop.post::<_, Value>(
        "/v1/products",
        &json!({"sku": "HOT", "title": "Hot item", "price": "5.00", "currency": "USD"}),
        None,
    )
    .await
    .map_err(|e| e.to_string())?;
    shop.post::<_, Value>(
        "/v1/inventory/set",
        &json!({"sku": "HOT", "location": "web", "available": 1_000_000_000i64}),
        None,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// The same requests over plain HTTP to a dialect's loopback base URL and
/// through the intercepting proxy to the real host (`CONNECT`, TLS against
/// the local CA, then HTTP/1.1 in the tunnel), in one run on one stack: what
/// interception costs a connector. Each connection opens its tunnel once and
/// keeps it (keep-alive), as an SDK's connection pool does, so the figure is
/// TLS record and proxy overhead, not handshakes.
pub fn intercept(ctx: &Ctx) -> Vec<Row> {
    const CASE: &str = "intercept";
    let server = runtime(2);
    let client = runtime(2);
    let ca_dir = std::env::temp_dir().join(format!("omnisim-bench-ca-{}", std::process::id()));
    let started = server.block_on(serve::start(ServeConfig {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        pos_port: 0,
        shop_port: 0,
        pay_port: 0,
        stripe_port: 0,
        api_key: KEY.to_owned(),
        seed: 1,
        delay_scale: 60,
        retention: Retention::default(),
        intercept: Some(omnisim_simulators::intercept::InterceptConfig {
            port: 0,
            ca_dir: ca_dir.clone(),
        }),
        webhook_hosts: Vec::new(),
    }));
    let running = match started {
        Ok(r) => r,
        Err(e) => {
            return vec![not_measured(
                CASE,
                "interception",
                format!("setup failed: {e}"),
            )];
        }
    };
    let urls = running.urls.clone();
    let Some(i) = urls.intercept.as_ref() else {
        return vec![not_measured(
            CASE,
            "interception",
            "no proxy started".into(),
        )];
    };
    let proxy = i
        .proxy_url()
        .trim_start_matches("http://")
        .parse::<std::net::SocketAddr>();
    let ca_pem = std::fs::read_to_string(i.ca_cert());
    let (Ok(proxy), Ok(ca_pem)) = (proxy, ca_pem) else {
        return vec![not_measured(
            CASE,
            "interception",
            "no proxy address or CA".into(),
        )];
    };
    let square_locations = |base: &str| {
        let mut t = Target::post_json(
            base,
            "/v2/locations",
            Some(&urls.dialects.square.access_token),
            &json!({}),
        );
        t.method = http::Method::GET;
        t.body = bytes::Bytes::new();
        t
    };
    let through = |mut t: Target, host: &str| {
        t.addr = proxy;
        t.tunnel = Some(load::Tunnel {
            host: host.to_owned(),
            ca_pem: ca_pem.clone(),
        });
        t
    };
    let stripe = stripe_intent_target(
        &urls.dialects.stripe.api_base,
        &urls.dialects.stripe.api_key,
    );
    let square = square_locations(&urls.dialects.square.base_url);
    let targets = [
        Arc::new(stripe.clone()),
        Arc::new(through(stripe, "api.stripe.com")),
        Arc::new(square.clone()),
        Arc::new(through(square, "connect.squareup.com")),
    ];
    let names = ["stripe http", "stripe proxy", "square http", "square proxy"];
    let mut series: [Series; 4] = Default::default();
    for run in 0..ctx.runs {
        for (i, t) in targets.iter().enumerate() {
            let m = client.block_on(load::run(Arc::clone(t), spec(ctx)));
            say!(
                "   run {} {:<14} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  failed {}",
                run + 1,
                names[i],
                m.rps(),
                m.p50_us as f64 / 1000.0,
                m.p99_us as f64 / 1000.0,
                m.failed
            );
            series[i].add(&m);
        }
    }
    let _ = server.block_on(running.shutdown());
    let _ = std::fs::remove_dir_all(&ca_dir);
    let n = ctx.runs;
    let [mut s_http, mut s_proxy, mut q_http, mut q_proxy] = series;
    let mut rows = Vec::new();
    for (what, plain, proxied, host) in [
        (
            "Stripe intent create + confirm (form, `pm_card_visa`, fresh idempotency key)",
            &mut s_http,
            &mut s_proxy,
            "api.stripe.com",
        ),
        (
            "Square `GET /v2/locations`",
            &mut q_http,
            &mut q_proxy,
            "connect.squareup.com",
        ),
    ] {
        let (rps, lo, hi) = median(&mut plain.rps);
        let (p99, _, _) = median(&mut plain.p99);
        let (t_rps, t_lo, t_hi) = median(&mut proxied.rps);
        let (t_p99, _, _) = median(&mut proxied.p99);
        rows.push(Row {
            runs: range(n, thousands(lo), thousands(hi)),
            ..Row::info(
                CASE,
                format!(
                    "{what}, plain HTTP to the loopback base URL (p99 {})",
                    ms(p99)
                ),
                format!("{} req/s", thousands(rps)),
            )
        });
        rows.push(Row {
            runs: range(n, thousands(t_lo), thousands(t_hi)),
            ..Row::info(
                CASE,
                format!(
                    "the same through the proxy to https://{host} (CONNECT + TLS, keep-alive; p99 {})",
                    ms(t_p99)
                ),
                format!(
                    "{} req/s = {:.0}% of plain",
                    thousands(t_rps),
                    100.0 * t_rps / rps.max(1e-9)
                ),
            )
        });
        for (name, s) in [("plain", &*plain), ("through the proxy", &*proxied)] {
            rows.extend(failures_row(CASE, &format!("{what}, {name}"), s));
        }
    }
    rows
}
