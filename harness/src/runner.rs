//! The virtual-time runner: one current-thread tokio runtime with paused time
//! runs the simulators, the engine and the scripted actors of one scenario.
//!
//! [`run`] builds the world, sets the merchant up through the platforms'
//! public APIs, starts the engine, then starts each step as its own task at
//! its simulated time (so steps close together really overlap), waits for
//! them, lets the world settle, and collects the history and the platforms'
//! final state.
//! The same scenario and seed give a byte-identical history.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use http::Method;
use omnisim_api::customer::{CreateCustomer, CustomerFilter, UpdateCustomer};
use omnisim_api::pay::{CancelIntent, CaptureMethod, CreateGiftCard, CreateRefund, PaymentMethod};
use omnisim_api::pos::{
    BatchChangeInventory, CreateItem, CreateReturn, CreateSale, GiftCardSaleRequest,
    InventoryChange, InventoryChangeType, InventoryState, RefundTo, SaleLineRequest, TenderRequest,
    TenderType, UpdateItem,
};
use omnisim_api::shop::{
    CancelOrder, CaptureOrder, Checkout, CheckoutLine, CreateDiscountCode, CreateOrderRefund,
    CreateProduct, DiscountKind, FulfillOrder, FulfillmentStatus, ProductStatus, RefundLineRequest,
    RestockType, SellGiftCard, SetInventory, SetTaxRate, UpdateProduct,
};
use omnisim_api::{ApiError, common::CreateLocation, common::Faults, common::LocationKind};
use omnisim_engine::{ReserveMode, Strategy, SyncMode, WriteMode};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::history::{History, OpType};
use crate::scenario::{LocationKindSpec, SellPolicySpec, Spanned, Step};
use crate::validate::{Loaded, parse_duration};
use crate::world::{NetworkLatency, RunWorld, World};

/// What one run produced: everything the checkers and reports need.
#[derive(Debug)]
pub struct Outcome {
    /// The seed used.
    pub seed: u64,
    /// The history.
    pub history: History,
    /// Simulated time when the run started (the business opened).
    pub started: DateTime<Utc>,
    /// Simulated time when it ended (after settling).
    pub ended: DateTime<Utc>,
    /// Steps that failed without `expect_error` saying so, and why.
    pub step_problems: Vec<String>,
    /// The engine's own sync errors.
    pub engine_errors: Vec<omnisim_engine::SyncError>,
    /// The platforms at the end, read through their APIs.
    pub final_state: Option<crate::checkers::FinalState>,
}

/// The engine strategy a scenario asks for.
pub fn strategy_of(loaded: &Loaded) -> Strategy {
    let spec = &loaded.scenario.connector.engine;
    let mut s = Strategy::default();
    let text =
        |v: &Option<crate::scenario::Spanned<String>>| v.as_ref().map(|s| s.get_ref().clone());
    if text(&spec.sync).as_deref() == Some("poll") {
        let every = text(&spec.poll_every)
            .and_then(|p| parse_duration(&p))
            .unwrap_or(Duration::from_secs(900));
        s.sync = SyncMode::Poll { every };
    }
    if let Some(r) = text(&spec.reconcile_every).and_then(|p| parse_duration(&p)) {
        s.reconcile_every = r;
    }
    s.write = match text(&spec.write).as_deref() {
        Some("set") => WriteMode::Set,
        Some("compare_and_set") => WriteMode::CompareAndSet,
        _ => WriteMode::Adjust,
    };
    if text(&spec.reserve).as_deref() == Some("on_capture") {
        s.reserve = ReserveMode::OnCapture;
    }
    s.buffer = spec.buffer.as_ref().map_or(0, |b| *b.get_ref());
    s.dedupe = spec.dedupe.unwrap_or(true);
    // Validation refused any other owner than `shop`, `pos` or `both`.
    let master = |v: &Option<crate::scenario::Spanned<String>>| {
        text(v).and_then(|m| m.parse().ok()).unwrap_or_default()
    };
    let m = &loaded.scenario.merchant.catalog_master;
    s.catalog_master = omnisim_engine::CatalogMaster {
        price: master(&m.price),
        tax_code: master(&m.tax_code),
    };
    // Validation refused unknown names and scenarios not tagged `defect`.
    s.defects = spec
        .defects
        .iter()
        .filter_map(|d| d.get_ref().parse().ok())
        .collect();
    s
}

fn latency_of(loaded: &Loaded) -> NetworkLatency {
    let Some(l) = &loaded.scenario.network.latency else {
        return NetworkLatency::default();
    };
    let text = l.get_ref();
    let (a, b) = text.split_once("..").unwrap_or((text, text));
    match (parse_duration(a), parse_duration(b)) {
        (Some(a), Some(b)) => NetworkLatency {
            min_ms: a.as_millis() as u64,
            max_ms: b.as_millis().max(a.as_millis()) as u64,
        },
        _ => NetworkLatency::default(),
    }
}

/// The simulated moment the business opens.
pub fn opening(loaded: &Loaded) -> DateTime<Utc> {
    let midnight = loaded
        .date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    midnight + TimeDelta::from_std(loaded.opens).unwrap_or_default()
}

/// Runs one scenario to the end, in virtual time.
pub fn run(loaded: &Loaded, seed: u64) -> Outcome {
    run_with(loaded, seed, strategy_of(loaded))
}

/// Runs one scenario with another engine strategy than its file names (to
/// show that a weaker connector breaks it).
pub fn run_with(loaded: &Loaded, seed: u64, strategy: Strategy) -> Outcome {
    // Time only: a virtual world has no sockets, and without an I/O driver
    // waking a task costs no system call.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    runtime.block_on(run_async(loaded, seed, strategy))
}

struct Ctx {
    world: RunWorld,
    history: History,
    names: Mutex<BTreeMap<String, String>>,
    /// Online orders whose goods the customer has: a `fulfil` or `pickup`
    /// step for them succeeded. Only these can be brought back to a store.
    handed_over: Mutex<BTreeSet<String>>,
    /// The payment of each online order, by order id, as its checkout
    /// answered: the owner in the gateway's dashboard finds a payment there,
    /// without asking the shop (which may be down).
    intents: Mutex<BTreeMap<String, String>>,
    strategy: Strategy,
    loaded: Loaded,
    problems: Mutex<Vec<String>>,
}

async fn run_async(loaded: &Loaded, seed: u64, strategy: Strategy) -> Outcome {
    let started = opening(loaded);
    let world = World::new(seed, started, latency_of(loaded));
    run_in(RunWorld::Virtual(world), loaded, seed, strategy)
        .await
        .0
}

/// Why a real-time run could not take place.
#[derive(Debug)]
pub struct RealRunError {
    /// Why the connector did not start.
    pub error: crate::realtime::StartError,
    /// What it printed.
    pub logs: crate::realtime::ConnectorLogs,
}

/// Runs one scenario in real time against a connector process: fresh
/// simulators on loopback ports, a fresh connector, the same setup, steps and
/// settling as in virtual time (step times divided by the time scale). The
/// connector's output comes back with the outcome.
pub fn run_real(
    loaded: &Loaded,
    seed: u64,
    spec: crate::realtime::ConnectorSpec,
    scenario_id: &str,
) -> Result<(Outcome, crate::realtime::ConnectorLogs), RealRunError> {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return Err(RealRunError {
                error: crate::realtime::StartError::Harness(e.to_string()),
                logs: Default::default(),
            });
        }
    };
    runtime.block_on(async {
        let settings = crate::realtime::MerchantSettings {
            catalog_master: strategy_of(loaded).catalog_master.to_string(),
        };
        let world = crate::realtime::RealWorld::new(seed, spec, scenario_id, settings)
            .await
            .map_err(|error| RealRunError {
                error,
                logs: Default::default(),
            })?;
        let logs = world.logs();
        // The connector is black-box: the harness sets up with no buffer.
        let (outcome, start) = run_in(
            RunWorld::Real(world),
            loaded,
            seed,
            Strategy {
                buffer: 0,
                ..Strategy::default()
            },
        )
        .await;
        match start {
            Some(error) => Err(RealRunError { error, logs }),
            None => Ok((outcome, logs)),
        }
    })
}

/// The one code path of both modes. Returns the outcome and, in real time,
/// why the connector did not start (the run stops there).
async fn run_in(
    world: RunWorld,
    loaded: &Loaded,
    seed: u64,
    strategy: Strategy,
) -> (Outcome, Option<crate::realtime::StartError>) {
    let started = world.clock().now();
    let history = world.history().clone();
    let ctx = Arc::new(Ctx {
        world,
        history,
        names: Mutex::new(BTreeMap::new()),
        handed_over: Mutex::new(BTreeSet::new()),
        intents: Mutex::new(BTreeMap::new()),
        strategy: strategy.clone(),
        loaded: loaded.clone(),
        problems: Mutex::new(Vec::new()),
    });
    let mut problems = Vec::new();
    if let Err(e) = setup(&ctx).await {
        problems.push(format!("setup failed: {e}"));
    }
    let start_failure = match &ctx.world {
        RunWorld::Real(w) => w.start_connector().await.err(),
        RunWorld::Virtual(_) => None,
    };
    if let Some(error) = start_failure {
        let ctx = Arc::into_inner(ctx).expect("no step holds the context yet");
        if let RunWorld::Real(w) = ctx.world {
            w.shutdown().await;
        }
        let outcome = Outcome {
            seed,
            history: ctx.history,
            started,
            ended: started,
            step_problems: problems,
            engine_errors: Vec::new(),
            final_state: None,
        };
        return (outcome, Some(error));
    }
    if matches!(ctx.world, RunWorld::Virtual(_))
        && let Err(e) = ctx.world.start_connector(strategy).await
    {
        problems.push(format!("the engine did not start: {e}"));
    }
    let t0 = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (i, step) in loaded.scenario.steps.iter().enumerate() {
        let offset = loaded.step_times[i].saturating_sub(loaded.opens);
        let at = t0 + ctx.world.scaled(offset);
        let ctx = Arc::clone(&ctx);
        let step = step.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            perform(&ctx, i, &step).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    ctx.world.settle(loaded.settle).await;
    let w = &ctx.world;
    use omnisim_simulators::SimControl;
    let sims = w.sims();
    for (name, sim) in [
        ("pos", sims.pos.as_ref() as &dyn SimControl),
        ("shop", sims.shop.as_ref()),
        ("pay", sims.pay.as_ref()),
    ] {
        let skews = sim.clock_skews();
        for e in sim.all_events() {
            let skew = skews.get(&e.seq).copied().unwrap_or(0);
            w.history().event(name, e, skew);
        }
    }
    let engine_errors = w.engine_errors();
    w.crash_connector().await;
    let final_state = Some(crate::suite::final_state(loaded, w).await);
    let ended = w.clock().now();
    problems.extend(
        ctx.problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..),
    );
    let outcome = Outcome {
        seed,
        history: w.history().clone(),
        started,
        ended,
        step_problems: problems,
        engine_errors,
        final_state,
    };
    if let Ok(ctx) = Arc::try_unwrap(ctx)
        && let RunWorld::Real(w) = ctx.world
    {
        w.shutdown().await;
    }
    (outcome, None)
}

fn with_world<T>(ctx: &Ctx, f: impl FnOnce(&RunWorld) -> T) -> T {
    f(&ctx.world)
}

async fn setup(ctx: &Ctx) -> Result<(), ApiError> {
    let (pos, shop, pay) = with_world(ctx, |w| (w.pos(), w.shop(), w.pay()));
    let m = &ctx.loaded.scenario.merchant;
    let buffer = ctx.strategy.buffer;
    let mut kinds = BTreeMap::new();
    for l in &m.locations {
        let id = l.id.get_ref().clone();
        let name = l.name.clone().unwrap_or_else(|| id.clone());
        let kind = match l.kind {
            LocationKindSpec::Store => LocationKind::Store,
            LocationKindSpec::Warehouse => LocationKind::Warehouse,
            LocationKindSpec::Online => LocationKind::Online,
        };
        kinds.insert(id.clone(), l.kind);
        let body = CreateLocation {
            id: id.clone(),
            name,
            kind,
        };
        tolerate_exists(shop.0.create_location(&body, None).await)?;
        if l.kind == LocationKindSpec::Store {
            tolerate_exists(pos.0.create_location(&body, None).await)?;
        }
    }
    let policy = |p: Option<SellPolicySpec>, default: &str| match p {
        Some(SellPolicySpec::Allow) => "allow".to_owned(),
        Some(SellPolicySpec::Warn) => "warn".to_owned(),
        Some(SellPolicySpec::Block) => "block".to_owned(),
        None => default.to_owned(),
    };
    let pos_policy = serde_json::json!({ "sell_when_out_of_stock": policy(m.pos.sell_when_out_of_stock, "allow") });
    pos.0
        .send::<_, serde_json::Value>(Method::PUT, "/v1/settings", Some(&pos_policy), None)
        .await?;
    let shop_policy = serde_json::json!({ "sell_when_out_of_stock": policy(m.shop.sell_when_out_of_stock, "block") });
    shop.0
        .send::<_, serde_json::Value>(Method::PUT, "/v1/settings", Some(&shop_policy), None)
        .await?;
    for (code, rate) in m.pos.tax_rates.get_ref() {
        pos.0
            .send::<_, serde_json::Value>(
                Method::PUT,
                &format!("/v1/tax_rates/{code}"),
                Some(&SetTaxRate { rate: *rate }),
                None,
            )
            .await?;
    }
    for (code, rate) in m.shop.tax_rates.get_ref() {
        shop.set_tax_rate(code, &SetTaxRate { rate: *rate }).await?;
    }
    let now = with_world(ctx, |w| w.clock().now());
    for item in &m.catalog {
        let sku = item.sku.get_ref().clone();
        if item.on_pos {
            let body = CreateItem {
                sku: sku.clone(),
                name: item.title.clone(),
                price: item.price,
                currency: item.currency.clone(),
                tax_code: item.tax_code.clone(),
            };
            pos.create_item(&body, None).await?;
        }
        if item.on_shop {
            let status = if item.status.as_deref() == Some("paused") {
                ProductStatus::Paused
            } else {
                ProductStatus::Active
            };
            let body = CreateProduct {
                sku: sku.clone(),
                title: item.title.clone(),
                price: item.price,
                currency: item.currency.clone(),
                tax_code: item.tax_code.clone(),
                status,
                channels: Default::default(),
            };
            shop.create_product(&body, None).await?;
        }
        for (loc, qty) in &item.stock {
            let store = kinds.get(loc) == Some(&LocationKindSpec::Store);
            if store && item.on_pos {
                let change = InventoryChange {
                    kind: InventoryChangeType::PhysicalCount,
                    sku: sku.clone(),
                    location: loc.clone(),
                    quantity: *qty,
                    from_state: None,
                    to_state: None,
                    occurred_at: now,
                    reference: Some("setup".into()),
                    order_ref: None,
                };
                pos.change_inventory(
                    &BatchChangeInventory {
                        changes: vec![change],
                    },
                    None,
                )
                .await?;
            }
            if item.on_shop {
                let available = if store { (*qty - buffer).max(0) } else { *qty };
                let body = SetInventory {
                    sku: sku.clone(),
                    location: loc.clone(),
                    available,
                    change_from: None,
                    reference: Some("setup".into()),
                };
                shop.set(&body, None).await?;
            }
        }
    }
    for d in &m.discounts {
        let kind = if d.kind == "fixed_amount" {
            DiscountKind::FixedAmount
        } else {
            DiscountKind::Percentage
        };
        shop.create_discount(
            &CreateDiscountCode {
                code: d.code.clone(),
                kind,
                value: d.value,
                usage_limit: None,
                currency: None,
            },
            None,
        )
        .await?;
    }
    for g in &m.gift_cards {
        pay.create_gift_card(
            &CreateGiftCard {
                code: Some(g.code.clone()),
                balance: g.balance,
                currency: g.currency.clone(),
            },
            None,
        )
        .await?;
    }
    Ok(())
}

fn tolerate_exists<T>(r: Result<T, ApiError>) -> Result<(), ApiError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("location_exists") => Ok(()),
        Err(e) => Err(e),
    }
}

fn lines_of(step: &Step) -> Vec<(String, i64)> {
    step.lines
        .as_ref()
        .map(|l| l.get_ref().iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

fn name_of(ctx: &Ctx, r: &Option<crate::scenario::Spanned<String>>) -> Option<String> {
    let key = r.as_ref()?.get_ref();
    ctx.names
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(key)
        .cloned()
}

fn remember(ctx: &Ctx, step: &Step, id: &str) {
    if let Some(n) = step.name.clone().or_else(|| step.customer.clone()) {
        ctx.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(n, id.to_owned());
    }
}

fn handed_over(ctx: &Ctx) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
    ctx.handed_over.lock().unwrap_or_else(|p| p.into_inner())
}

fn process_of(step: &Step) -> String {
    let actor = step.actor.get_ref();
    match (actor.as_str(), &step.customer, &step.location) {
        ("shop", Some(c), _) => format!("shop:{c}"),
        ("pos", _, Some(l)) => format!("pos:{}", l.get_ref()),
        _ => actor.clone(),
    }
}

/// A failed step: its error code, or `None` when the outcome is unknown.
enum Failed {
    Refused(String, serde_json::Value),
    Unknown(String),
}

fn failed(e: &ApiError) -> Failed {
    if e.outcome_unknown() {
        Failed::Unknown(e.to_string())
    } else {
        let code = e.code().unwrap_or("error").to_owned();
        Failed::Refused(
            code.clone(),
            serde_json::json!({ "error": code, "status": e.status(), "message": e.to_string() }),
        )
    }
}

async fn perform(ctx: &Ctx, i: usize, step: &Step) {
    let process = process_of(step);
    let f = step.action.get_ref().clone();
    let invoke = serde_json::to_value(step).unwrap_or_default();
    let now = || with_world(ctx, |w| w.clock().now());
    ctx.history
        .op(now(), i, &process, OpType::Invoke, &f, invoke);
    let result = act(ctx, i, step).await;
    match result {
        Ok(value) => {
            ctx.history.op(now(), i, &process, OpType::Ok, &f, value);
            if let Some(want) = &step.expect_error {
                let problem = match f.as_str() {
                    "forge" | "replay" if want == "invalid_signature" => format!(
                        "step {} (nemesis {f}): the connector accepted {}; it must answer 401 and apply nothing",
                        i + 1,
                        if f == "forge" {
                            "a forged webhook"
                        } else {
                            "a correctly signed webhook whose signature is an hour old (a replay)"
                        }
                    ),
                    _ => format!(
                        "step {} ({} {f}) succeeded, but `{want}` was expected",
                        i + 1,
                        step.actor.get_ref()
                    ),
                };
                ctx.problems
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(problem);
            }
        }
        Err(Failed::Refused(code, value)) => {
            ctx.history.op(now(), i, &process, OpType::Fail, &f, value);
            if step.expect_error.as_deref() != Some(code.as_str()) {
                ctx.problems
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!(
                        "step {} ({} {f}) failed: {code}",
                        i + 1,
                        step.actor.get_ref()
                    ));
            }
        }
        Err(Failed::Unknown(msg)) => ctx.history.op(
            now(),
            i,
            &process,
            OpType::Info,
            &f,
            serde_json::json!({ "unknown": msg }),
        ),
    }
}

/// A staff stock adjust through the shop's Shopify dialect, as a merchant's
/// admin app on Shopify's client sends it: the variant's inventory item and
/// the location (by the name the shop gives the step's location) are looked
/// up through Admin GraphQL, then
/// `inventoryAdjustQuantities` runs with the step's key as its
/// `@idempotent` key and as its `referenceDocumentUri`, which the shop keeps
/// as the change's reference (so a lost answer resolves as a native one
/// does). The value is the adjustment group; a user error or a top-level
/// GraphQL error is a refusal, named by its code.
async fn shopify_adjust(
    shop: &omnisim_api::ApiClient,
    body: &omnisim_api::shop::AdjustInventory,
    key: &str,
) -> Result<serde_json::Value, Failed> {
    use serde_json::{Value, json};
    let locations = shop.locations().await.map_err(|e| failed(&e))?;
    let location_name = locations
        .data
        .iter()
        .find(|l| l.id == body.location)
        .map_or(body.location.as_str(), |l| l.name.as_str());
    let path = format!(
        "/admin/api/{}/graphql.json",
        omnisim_simulators::serve::SHOPIFY_API_VERSION
    );
    let ask = |doc: Value| {
        let path = path.clone();
        async move {
            let token = http::HeaderName::from_static("x-shopify-access-token");
            let raw = shop
                .post_raw_keyed((token, ""), &path, &doc)
                .await
                .map_err(|e| failed(&e))?;
            let answer: Value = serde_json::from_slice(&raw.body).unwrap_or_default();
            if !raw.status.is_success() || answer.get("errors").is_some() {
                let code = answer["errors"][0]["extensions"]["code"]
                    .as_str()
                    .map_or_else(
                        || format!("http_{}", raw.status.as_u16()),
                        str::to_lowercase,
                    );
                return Err(Failed::Refused(
                    code.clone(),
                    json!({ "error": code, "status": raw.status.as_u16(), "message": answer }),
                ));
            }
            Ok(answer["data"].clone())
        }
    };
    let found = ask(json!({
        "query": "query Find($q: String!) { productVariants(first: 1, query: $q) \
            { nodes { inventoryItem { id } } } locations(first: 250) { nodes { id name } } }",
        "variables": { "q": format!("sku:{}", body.sku) },
    }))
    .await?;
    let refused = |code: &str, message: String| {
        Failed::Refused(
            code.to_owned(),
            json!({ "error": code, "message": message }),
        )
    };
    let item = found["productVariants"]["nodes"][0]["inventoryItem"]["id"]
        .as_str()
        .ok_or_else(|| refused("unknown_sku", format!("no variant has SKU `{}`", body.sku)))?;
    let location = found["locations"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["name"] == location_name)
        .and_then(|l| l["id"].as_str())
        .ok_or_else(|| {
            refused(
                "unknown_location",
                format!("no location is named `{location_name}`"),
            )
        })?;
    let adjusted = ask(json!({
        "query": "mutation Adjust($input: InventoryAdjustQuantitiesInput!, $key: String!) \
            { inventoryAdjustQuantities(input: $input) @idempotent(key: $key) \
            { inventoryAdjustmentGroup { id reason referenceDocumentUri \
            changes { name delta quantityAfterChange } } userErrors { field message code } } }",
        "variables": {
            "key": key,
            "input": {
                "name": "available",
                "reason": body.reason,
                "referenceDocumentUri": key,
                "changes": [{ "inventoryItemId": item, "locationId": location, "delta": body.delta }],
            },
        },
    }))
    .await?;
    let payload = &adjusted["inventoryAdjustQuantities"];
    if let Some(e) = payload["userErrors"].as_array().and_then(|e| e.first()) {
        let code = e["code"].as_str().unwrap_or("user_error").to_lowercase();
        return Err(Failed::Refused(
            code.clone(),
            json!({ "error": code, "message": e["message"] }),
        ));
    }
    Ok(payload["inventoryAdjustmentGroup"].clone())
}

/// The simulated moment a promotion step names (`starts` or `ends`, a clock
/// time of the business day), or the step's own time without one.
fn clock_time(ctx: &Ctx, t: &Option<Spanned<String>>, i: usize) -> DateTime<Utc> {
    let offset = t
        .as_ref()
        .and_then(|t| crate::validate::parse_clock(t.get_ref()))
        .or_else(|| ctx.loaded.step_times.get(i).copied())
        .unwrap_or_default();
    let midnight = ctx
        .loaded
        .date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    midnight + TimeDelta::from_std(offset).unwrap_or_default()
}

fn ok<T: Serialize>(t: &T) -> Result<serde_json::Value, Failed> {
    Ok(serde_json::to_value(t).unwrap_or_default())
}

fn missing(what: &str) -> Failed {
    Failed::Refused(
        "unknown_reference".into(),
        serde_json::json!({ "error": "unknown_reference", "message": format!("{what} does not exist (yet)") }),
    )
}

fn toml_to<T: serde::de::DeserializeOwned>(v: &toml::Value) -> Result<T, Failed> {
    let json = serde_json::to_value(v).map_err(|e| {
        Failed::Refused(
            "bad_step".into(),
            serde_json::json!({ "error": e.to_string() }),
        )
    })?;
    serde_json::from_value(json).map_err(|e| {
        Failed::Refused(
            "bad_step".into(),
            serde_json::json!({ "error": e.to_string() }),
        )
    })
}

/// What the register asks for the lines: its current price and tax code for
/// each item (a clerk tenders what the register shows, which may differ from
/// the scenario's starting catalog after a price or tax change), with the
/// POS's tax rates.
async fn pos_total(
    ctx: &Ctx,
    pos: &omnisim_api::pos::PosClient,
    lines: &[(String, i64)],
) -> Decimal {
    let m = &ctx.loaded.scenario.merchant;
    let mut total = Decimal::ZERO;
    for (sku, qty) in lines {
        let Some(item) = m.catalog.iter().find(|c| c.sku.get_ref() == sku) else {
            continue;
        };
        let (price, tax_code, currency) = match pos.item(sku).await {
            Ok(now) => (now.price, now.tax_code, now.currency),
            Err(_) => (item.price, item.tax_code.clone(), item.currency.clone()),
        };
        let sub = price * Decimal::from(*qty);
        let rate = tax_code
            .as_ref()
            .and_then(|c| m.pos.tax_rates.get_ref().get(c))
            .copied()
            .unwrap_or_default();
        total += sub + omnisim_api::common::round_money(sub * rate, &currency);
    }
    total
}

/// The shop's promotion that the step names by its title.
async fn promotion_titled(
    shop: &omnisim_api::shop::ShopClient,
    step: &Step,
) -> Result<omnisim_api::promotion::Promotion, Failed> {
    let title = step
        .promotion
        .as_ref()
        .map(|p| p.get_ref().clone())
        .unwrap_or_default();
    let all = shop.promotions().list(None).await.map_err(|e| failed(&e))?;
    all.data
        .into_iter()
        .find(|p| p.title == title)
        .ok_or_else(|| missing(&format!("promotion `{title}`")))
}

async fn act(ctx: &Ctx, i: usize, step: &Step) -> Result<serde_json::Value, Failed> {
    let (pos, shop, pay) = with_world(ctx, |w| (w.pos(), w.shop(), w.pay()));
    let lines = lines_of(step);
    let location = step.location.as_ref().map(|l| l.get_ref().clone());
    let key = format!("step-{i}");
    let order_id = || name_of(ctx, &step.order).ok_or_else(|| missing("the order"));
    match (
        step.actor.get_ref().as_str(),
        step.action.get_ref().as_str(),
    ) {
        ("shop", "checkout") => {
            let payment = match &step.payment {
                Some(p) => toml_to::<PaymentMethod>(p.get_ref())?,
                None => PaymentMethod::Card {
                    number: "4242424242424242".into(),
                },
            };
            let body = Checkout {
                lines: lines
                    .iter()
                    .map(|(sku, q)| CheckoutLine {
                        sku: sku.clone(),
                        quantity: *q,
                    })
                    .collect(),
                payment,
                discount_code: step.discount_code.clone(),
                pickup_location: step.pickup_location.as_ref().map(|l| l.get_ref().clone()),
                location,
                customer: step.customer.clone(),
                capture: CaptureMethod::Manual,
                channel: step.channel.clone(),
            };
            let order = shop
                .checkout(&body, Some(&key))
                .await
                .map_err(|e| failed(&e))?;
            remember(ctx, step, &order.id);
            if let Some(intent) = &order.payment_intent {
                ctx.intents
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(order.id.clone(), intent.clone());
            }
            ok(&order)
        }
        ("shop" | "staff", "cancel") => {
            let id = order_id()?;
            let restock = step.restock.unwrap_or(true);
            let order = shop
                .cancel(
                    &id,
                    &CancelOrder {
                        reason: Default::default(),
                        restock: Some(restock),
                    },
                    Some(&key),
                )
                .await
                .map_err(|e| failed(&e))?;
            ok(&order)
        }
        (side @ ("shop" | "pos"), "signup") => {
            let api = if side == "shop" {
                shop.customers()
            } else {
                pos.customers()
            };
            let body = CreateCustomer {
                name: step.customer.clone().unwrap_or_default(),
                email: step.email.as_ref().map(|e| e.get_ref().clone()),
                phone: step.phone.as_ref().map(|p| p.get_ref().clone()),
                accepts_marketing: step.accepts_marketing.unwrap_or(false),
            };
            let made = match api.create(&body, Some(&key)).await {
                Ok(made) => made,
                // The platform already holds a profile for this email (a
                // clerk made one, or the connector copied one over): the
                // person takes it up, as a shop invites an existing
                // customer to activate their account, and what they give
                // now is written onto it. Nothing is duplicated.
                Err(e) if e.code() == Some("email_taken") => {
                    let filter = CustomerFilter {
                        email: body.email.clone(),
                        ..CustomerFilter::default()
                    };
                    let found = api.list(&filter).await.map_err(|e| failed(&e))?;
                    let Some(profile) = found.data.first() else {
                        return Err(failed(&e));
                    };
                    let update = UpdateCustomer {
                        name: Some(body.name.clone()).filter(|n| !n.trim().is_empty()),
                        email: body.email.clone(),
                        phone: body.phone.clone(),
                        accepts_marketing: Some(body.accepts_marketing),
                    };
                    api.update(&profile.id, &update)
                        .await
                        .map_err(|e| failed(&e))?
                }
                Err(e) => return Err(failed(&e)),
            };
            ok(&made)
        }
        (side @ ("shop" | "pos"), action @ ("consent" | "profile")) => {
            let api = if side == "shop" {
                shop.customers()
            } else {
                pos.customers()
            };
            // The profile is looked up as a clerk or a customer finds it: by
            // email, or (for a consent step without one) by phone.
            let filter = match &step.email {
                Some(e) => CustomerFilter {
                    email: Some(e.get_ref().clone()),
                    ..CustomerFilter::default()
                },
                None => CustomerFilter {
                    phone: step.phone.as_ref().map(|p| p.get_ref().clone()),
                    ..CustomerFilter::default()
                },
            };
            let found = api.list(&filter).await.map_err(|e| failed(&e))?;
            let Some(profile) = found.data.first() else {
                return Err(Failed::Refused(
                    "unknown_customer".into(),
                    serde_json::json!({ "error": "unknown_customer", "message": "no profile with this email or phone" }),
                ));
            };
            let body = if action == "consent" {
                UpdateCustomer {
                    accepts_marketing: step.accepts_marketing,
                    ..UpdateCustomer::default()
                }
            } else {
                UpdateCustomer {
                    name: step.customer.clone(),
                    phone: step.phone.as_ref().map(|p| p.get_ref().clone()),
                    accepts_marketing: step.accepts_marketing,
                    email: None,
                }
            };
            let changed = api
                .update(&profile.id, &body)
                .await
                .map_err(|e| failed(&e))?;
            ok(&changed)
        }
        ("pos", "sale") => {
            let tenders = match &step.tenders {
                Some(ts) => ts
                    .iter()
                    .map(|t| toml_to::<TenderRequest>(t.get_ref()))
                    .collect::<Result<Vec<_>, _>>()?,
                None => vec![TenderRequest {
                    kind: TenderType::Cash,
                    amount: pos_total(ctx, &pos, &lines).await
                        + step
                            .gift_cards
                            .iter()
                            .flat_map(|g| g.get_ref())
                            .map(|g| g.amount)
                            .sum::<Decimal>(),
                    number: None,
                    code: None,
                }],
            };
            let body = CreateSale {
                location: location.unwrap_or_default(),
                lines: lines
                    .iter()
                    .map(|(sku, q)| SaleLineRequest {
                        sku: sku.clone(),
                        quantity: *q,
                    })
                    .collect(),
                tenders,
                occurred_at: None,
                customer: step.customer.clone(),
                gift_cards: step
                    .gift_cards
                    .iter()
                    .flat_map(|g| g.get_ref())
                    .map(|g| GiftCardSaleRequest {
                        code: g.code.clone(),
                        amount: g.amount,
                        currency: None,
                    })
                    .collect(),
            };
            let sale = pos.sale(&body, Some(&key)).await.map_err(|e| failed(&e))?;
            remember(ctx, step, &sale.id);
            ok(&sale)
        }
        ("pos", "return") => {
            let sale_id = match &step.sale {
                Some(_) => Some(name_of(ctx, &step.sale).ok_or_else(|| missing("the sale"))?),
                None => None,
            };
            let order_ref = match &step.order {
                Some(_) => Some(order_id()?),
                None => None,
            };
            if let Some(order) = &order_ref {
                // The customer brings back goods they were given: an order
                // never shipped or collected has nothing at the counter.
                if !handed_over(ctx).contains(order) {
                    return Err(Failed::Refused(
                        "not_handed_over".into(),
                        serde_json::json!({
                            "error": "not_handed_over",
                            "message": format!(
                                "order {order} was never shipped or collected (no fulfil or pickup step for it succeeded): the customer has nothing to bring back"
                            ),
                        }),
                    ));
                }
            }
            let refund_to = match step.refund_to.as_deref() {
                Some("cash") => RefundTo::Cash,
                Some("store_credit") => RefundTo::StoreCredit,
                // A store credit card named without `refund_to`: store credit.
                None if step.credit.is_some() => RefundTo::StoreCredit,
                _ => RefundTo::Original,
            };
            let body = CreateReturn {
                sale_id,
                order_ref,
                location: location.unwrap_or_default(),
                lines: lines
                    .iter()
                    .map(|(sku, q)| SaleLineRequest {
                        sku: sku.clone(),
                        quantity: *q,
                    })
                    .collect(),
                restock: step.restock.unwrap_or(true),
                refund_to,
                occurred_at: None,
                store_credit_code: step.credit.as_ref().map(|c| c.get_ref().clone()),
            };
            let ret = pos
                .create_return(&body, Some(&key))
                .await
                .map_err(|e| failed(&e))?;
            remember(ctx, step, &ret.id);
            ok(&ret)
        }
        ("pos", "pickup") => {
            let id = order_id()?;
            let p = pos
                .complete_pickup(&id, Some(&key))
                .await
                .map_err(|e| failed(&e))?;
            handed_over(ctx).insert(id);
            ok(&p)
        }
        ("pos", "no_show") => {
            // The clerk closes an uncollected pickup at the register: its
            // units go back on the shelf; the online order is the connector's.
            let id = order_id()?;
            let p = pos
                .cancel_pickup(&id, Some(&key))
                .await
                .map_err(|e| failed(&e))?;
            ok(&p)
        }
        ("pos", action @ ("count" | "receive" | "waste")) => {
            let (kind, from, to) = match action {
                "count" => (InventoryChangeType::PhysicalCount, None, None),
                "receive" => (
                    InventoryChangeType::Adjustment,
                    Some(InventoryState::None),
                    Some(InventoryState::InStock),
                ),
                _ => (
                    InventoryChangeType::Adjustment,
                    Some(InventoryState::InStock),
                    Some(InventoryState::Waste),
                ),
            };
            let change = InventoryChange {
                kind,
                sku: step
                    .sku
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                location: location.unwrap_or_default(),
                quantity: step.quantity.as_ref().map_or(0, |q| *q.get_ref()),
                from_state: from,
                to_state: to,
                occurred_at: with_world(ctx, |w| w.clock().now()),
                // Names the step, so an unanswered write can be found in the
                // platform's log (see `truth::resolve_unknown`).
                reference: Some(key.clone()),
                order_ref: None,
            };
            let counts = pos
                .change_inventory(
                    &BatchChangeInventory {
                        changes: vec![change],
                    },
                    Some(&key),
                )
                .await
                .map_err(|e| failed(&e))?;
            ok(&counts)
        }
        ("shop", "gift_card") => {
            // A customer buys a gift card on the shop: paid at once, issued
            // at the gateway under the step's code.
            let payment = match &step.payment {
                Some(p) => toml_to::<PaymentMethod>(p.get_ref())?,
                None => PaymentMethod::Card {
                    number: "4242424242424242".into(),
                },
            };
            let body = SellGiftCard {
                code: step
                    .code
                    .as_ref()
                    .map(|c| c.get_ref().clone())
                    .unwrap_or_default(),
                amount: step.amount.unwrap_or_default(),
                currency: None,
                payment,
                customer: step.customer.clone(),
            };
            let bought = shop
                .sell_gift_card(&body, Some(&key))
                .await
                .map_err(|e| failed(&e))?;
            ok(&bought)
        }
        ("pay", "balance") => {
            // The customer asks what is left on a card, as a clerk or the
            // shop's balance page reads it from the gateway.
            let code = step
                .code
                .as_ref()
                .map(|c| c.get_ref().clone())
                .unwrap_or_default();
            let card = pay.gift_card(&code).await.map_err(|e| failed(&e))?;
            if let Some(want) = step.balance
                && card.balance != want
            {
                ctx.problems
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!(
                        "step {} (pay balance): gift card {code} holds {} {}, but the scenario expects {want}",
                        i + 1,
                        card.balance,
                        card.currency
                    ));
            }
            ok(&card)
        }
        ("staff", "fulfil") => {
            let id = order_id()?;
            let order = shop
                .fulfill(&id, &FulfillOrder::default(), Some(&key))
                .await
                .map_err(|e| failed(&e))?;
            handed_over(ctx).insert(id);
            ok(&order)
        }
        ("staff", "capture") => {
            let id = order_id()?;
            let order = shop
                .capture(
                    &id,
                    &CaptureOrder {
                        amount: step.amount,
                    },
                    Some(&key),
                )
                .await
                .map_err(|e| failed(&e))?;
            ok(&order)
        }
        ("staff", "refund") => {
            let id = order_id()?;
            let order = shop.order(&id).await.map_err(|e| failed(&e))?;
            let fulfilled = order.fulfillment_status == FulfillmentStatus::Fulfilled;
            let mut refund_lines = Vec::new();
            for (sku, q) in &lines {
                let Some(line) = order.lines.iter().find(|l| &l.sku == sku) else {
                    return Err(missing(&format!("{sku} on the order")));
                };
                let restock_type = if step.restock == Some(false) {
                    RestockType::NoRestock
                } else if fulfilled {
                    RestockType::Return
                } else {
                    RestockType::Cancel
                };
                // Only goods coming back name where they go.
                let to = if restock_type == RestockType::Return {
                    location.clone()
                } else {
                    None
                };
                refund_lines.push(RefundLineRequest {
                    line_id: line.id.clone(),
                    quantity: *q,
                    restock_type,
                    location: to,
                });
            }
            let refund = shop
                .refund(
                    &id,
                    &CreateOrderRefund {
                        lines: refund_lines,
                        note: None,
                    },
                    Some(&key),
                )
                .await
                .map_err(|e| failed(&e))?;
            ok(&refund)
        }
        ("staff", "price" | "tax" | "pause" | "resume") => {
            let sku = step
                .sku
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default();
            let target = step
                .target
                .as_ref()
                .map(|t| t.get_ref().as_str())
                .unwrap_or("shop");
            let action = step.action.get_ref().as_str();
            if target == "pos" {
                let body = UpdateItem {
                    name: None,
                    price: step.price,
                    currency: None,
                    tax_code: step.tax_code.clone(),
                };
                let item = pos.update_item(&sku, &body).await.map_err(|e| failed(&e))?;
                return ok(&item);
            }
            let mut body = UpdateProduct {
                price: step.price,
                tax_code: step.tax_code.clone(),
                ..UpdateProduct::default()
            };
            let status = if action == "pause" {
                Some(ProductStatus::Paused)
            } else if action == "resume" {
                Some(ProductStatus::Active)
            } else {
                None
            };
            match (&step.channel, status) {
                (Some(ch), Some(st)) => {
                    body.channels = Some([(ch.clone(), st)].into_iter().collect())
                }
                (None, Some(st)) => body.status = Some(st),
                _ => {}
            }
            let product = shop
                .update_product(&sku, &body)
                .await
                .map_err(|e| failed(&e))?;
            ok(&product)
        }
        ("staff", "promote") => {
            use omnisim_api::promotion::{CreatePromotion, PromotionStatus};
            let (kind, value) = match (step.percent_off, step.amount_off) {
                (Some(p), _) => (DiscountKind::Percentage, p),
                (None, a) => (DiscountKind::FixedAmount, a.unwrap_or_default()),
            };
            let body = CreatePromotion {
                title: step
                    .promotion
                    .as_ref()
                    .map(|p| p.get_ref().clone())
                    .unwrap_or_default(),
                kind,
                value,
                currency: None,
                skus: step
                    .skus
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                starts_at: Some(clock_time(ctx, &step.starts, i)),
                ends_at: step.ends.as_ref().map(|_| clock_time(ctx, &step.ends, i)),
                status: PromotionStatus::Active,
                external_ref: None,
            };
            let made = shop
                .promotions()
                .create(&body, Some(&key))
                .await
                .map_err(|e| failed(&e))?;
            ok(&made)
        }
        ("staff", "change_promotion") => {
            use omnisim_api::promotion::PromotionStatus;
            let found = promotion_titled(&shop, step).await?;
            let body = omnisim_api::promotion::UpdatePromotion {
                value: step.percent_off.or(step.amount_off),
                skus: step.skus.as_ref().map(|s| s.get_ref().clone()),
                starts_at: step
                    .starts
                    .as_ref()
                    .map(|_| clock_time(ctx, &step.starts, i)),
                ends_at: step.ends.as_ref().map(|_| clock_time(ctx, &step.ends, i)),
                status: step.active.map(|on| {
                    if on {
                        PromotionStatus::Active
                    } else {
                        PromotionStatus::Disabled
                    }
                }),
                ..Default::default()
            };
            let changed = shop
                .promotions()
                .update(&found.id, &body)
                .await
                .map_err(|e| failed(&e))?;
            ok(&changed)
        }
        ("staff", "end_promotion") => {
            let found = promotion_titled(&shop, step).await?;
            let body = omnisim_api::promotion::UpdatePromotion {
                ends_at: Some(clock_time(ctx, &step.ends, i)),
                ..Default::default()
            };
            let ended = shop
                .promotions()
                .update(&found.id, &body)
                .await
                .map_err(|e| failed(&e))?;
            ok(&ended)
        }
        ("staff", "adjust") => {
            let sku = step
                .sku
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default();
            let body = omnisim_api::shop::AdjustInventory {
                sku,
                location: location.unwrap_or_default(),
                delta: step.quantity.as_ref().map_or(0, |q| *q.get_ref()),
                reason: "received".into(),
                change_from: None,
                reference: Some(key.clone()),
            };
            if step.wire.as_ref().is_some_and(|w| w.get_ref() == "shopify") {
                return shopify_adjust(&shop.0, &body, &key).await;
            }
            let level = shop
                .adjust(&body, Some(&key))
                .await
                .map_err(|e| failed(&e))?;
            ok(&level)
        }
        ("pay", "void" | "refund") => {
            let id = order_id()?;
            let known = ctx
                .intents
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&id)
                .cloned();
            let intent = match known {
                Some(intent) => intent,
                None => {
                    let order = shop.order(&id).await.map_err(|e| failed(&e))?;
                    order
                        .payment_intent
                        .ok_or_else(|| missing("the order's payment"))?
                }
            };
            if step.action.get_ref() == "void" {
                let i = pay
                    .cancel(&intent, &CancelIntent::default(), Some(&key))
                    .await
                    .map_err(|e| failed(&e))?;
                ok(&i)
            } else {
                let body = CreateRefund {
                    payment_intent: intent,
                    amount: step.amount,
                    reason: None,
                    metadata: Default::default(),
                };
                let r = pay
                    .refund(&body, Some(&key))
                    .await
                    .map_err(|e| failed(&e))?;
                ok(&r)
            }
        }
        ("nemesis", "faults" | "clear") => {
            let faults = match (&step.faults, step.action.get_ref().as_str()) {
                (Some(f), "faults") => toml_to::<Faults>(f.get_ref())?,
                _ => Faults::default(),
            };
            // A partition is its own window: a `faults` step leaves it as it
            // is unless its table names `partition` (then lifts it with the
            // rest when its duration ends); `clear` lifts it too.
            let names_partition = step.action.get_ref() == "clear"
                || step
                    .faults
                    .as_ref()
                    .is_some_and(|f| f.get_ref().get("partition").is_some());
            let targets: Vec<String> = match &step.target {
                Some(t) => vec![t.get_ref().clone()],
                None => vec!["pos".into(), "shop".into(), "pay".into()],
            };
            for t in &targets {
                set_faults(ctx, t, faults.clone(), !names_partition)?;
            }
            if let Some(d) = step
                .duration
                .as_ref()
                .and_then(|d| parse_duration(d.get_ref()))
            {
                tokio::time::sleep(ctx.world.scaled(d)).await;
                for t in &targets {
                    set_faults(ctx, t, Faults::default(), !names_partition)?;
                }
            }
            ok(&serde_json::json!({ "targets": targets }))
        }
        ("nemesis", "crash") => {
            ctx.world.crash_connector().await;
            if let Some(d) = step
                .duration
                .as_ref()
                .and_then(|d| parse_duration(d.get_ref()))
            {
                tokio::time::sleep(ctx.world.scaled(d)).await;
                restart(ctx).await?;
            }
            ok(&serde_json::json!({ "engine": "crashed" }))
        }
        ("nemesis", action @ ("forge" | "replay")) => {
            // A webhook the platform never sent: the connector must answer 401
            // and apply nothing. It claims a sale of `quantity` units. A
            // `replay` is correctly signed with the live secret, an hour ago.
            let replay = action == "replay";
            let target = step
                .target
                .as_ref()
                .map(|t| t.get_ref().clone())
                .unwrap_or_else(|| "pos".into());
            let sku = step
                .sku
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default();
            let quantity = step.quantity.as_ref().map_or(1, |q| *q.get_ref());
            let (kind, data, header) = match target.as_str() {
                "shop" => (
                    "inventory_levels/update",
                    serde_json::json!({ "sku": sku, "location": location, "available": 0, "committed": 0, "on_hand": 0, "unavailable": 0,
                        "cause": { "kind": "adjust", "reference": null, "delta": -quantity } }),
                    ("x-shopify-hmac-sha256", "Zm9yZ2Vk"),
                ),
                "pay" => (
                    "payment_intent.canceled",
                    serde_json::json!({ "id": "pi_forged", "status": "canceled", "metadata": {} }),
                    ("stripe-signature", "t=0,v1=00"),
                ),
                _ => (
                    "inventory.count.updated",
                    serde_json::json!({ "sku": sku, "location": location, "quantity": 0, "cause": { "kind": "sale", "reference": null, "delta": -quantity } }),
                    ("x-square-hmacsha256-signature", "Zm9yZ2Vk"),
                ),
            };
            let now = with_world(ctx, |w| w.clock().now());
            let body = serde_json::json!({ "id": format!("evt_{target}_forged_{i}"), "seq": 999_999, "type": kind, "occurred_at": now, "data": data });
            let raw = serde_json::to_vec(&body).unwrap_or_default();
            let Some(url) = ctx.world.receiver_url(&target) else {
                // The connector subscribed to nothing there: nothing to forge.
                return Err(Failed::Refused(
                    "invalid_signature".into(),
                    serde_json::json!({ "error": "invalid_signature", "note": "no receiver registered" }),
                ));
            };
            // The gateway's forgery is correctly signed with the live secret
            // but an hour stale (Stripe's scheme signs its timestamp); the
            // others carry a MAC that does not verify. A shop replay is
            // signed too, its `X-Shopify-Triggered-At` an hour old.
            let scheme = match target.as_str() {
                "pay" => Some(omnisim_api::signing::Scheme::Stripe),
                "shop" if replay => Some(omnisim_api::signing::Scheme::Shopify),
                _ => None,
            };
            let stale = scheme.map(|scheme| {
                let sims = ctx.world.sims();
                let hooks = if target == "pay" {
                    &sims.pay.core.webhooks
                } else {
                    &sims.shop.core.webhooks
                };
                let secrets = hooks.live_secrets_for(&url, now);
                omnisim_api::signing::sign(
                    scheme,
                    &secrets,
                    omnisim_api::signing::Delivery {
                        url: &url,
                        body: &raw,
                        event_id: &format!("evt_{target}_forged_{i}"),
                        topic: kind,
                        sent_at: now - chrono::TimeDelta::hours(1),
                    },
                )
            });
            let mut request =
                http::Request::post(url.as_str()).header("content-type", "application/json");
            match stale {
                Some(headers) if !headers.is_empty() => {
                    for (name, value) in headers {
                        request = request.header(name, value);
                    }
                }
                _ => request = request.header(header.0, header.1),
            }
            let request = request.body(bytes::Bytes::from(raw)).map_err(|e| {
                Failed::Refused(
                    "bad_step".into(),
                    serde_json::json!({ "error": e.to_string() }),
                )
            })?;
            let (net, _) = ctx.world.network();
            match net.send(request).await {
                Ok(r) if r.status().is_success() => {
                    ok(&serde_json::json!({ "accepted": true, "status": r.status().as_u16() }))
                }
                Ok(r) => {
                    // The contract asks for 401; any body will do.
                    let code = if r.status() == http::StatusCode::UNAUTHORIZED {
                        "invalid_signature".to_owned()
                    } else {
                        serde_json::from_slice::<serde_json::Value>(r.body())
                            .ok()
                            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                            .unwrap_or_else(|| "rejected".into())
                    };
                    Err(Failed::Refused(
                        code.clone(),
                        serde_json::json!({ "error": code, "status": r.status().as_u16() }),
                    ))
                }
                Err(e) => Err(Failed::Unknown(e.to_string())),
            }
        }
        ("nemesis", "partition") => {
            // Validation makes `target` and `duration` present.
            let target = step
                .target
                .as_ref()
                .map(|t| t.get_ref().clone())
                .unwrap_or_else(|| "pos".into());
            let d = step
                .duration
                .as_ref()
                .and_then(|d| parse_duration(d.get_ref()))
                .unwrap_or_default();
            // The simulator's own `partition` fault, the same in both clocks:
            // the connector's requests are held and refused, its webhooks fail
            // and are retried, the harness's actors still get through.
            let Some(core) = ctx.world.sims().core(&target).cloned() else {
                return Err(Failed::Refused(
                    "bad_step".into(),
                    serde_json::json!({ "error": format!("no platform `{target}`") }),
                ));
            };
            let cut_at = ctx.world.clock().now();
            let refused_before = core.partitioned_requests();
            core.set_partition(true);
            tokio::time::sleep(ctx.world.scaled(d)).await;
            core.set_partition(false);
            // What the cut cost, for the history: the connector's requests it
            // refused and the webhook attempts that failed during the window.
            let failed_deliveries = core
                .webhooks
                .deliveries()
                .iter()
                .filter(|r| {
                    r.at >= cut_at
                        && r.error.as_deref().is_some_and(|e| {
                            e.contains(omnisim_simulators::webhooks::PARTITIONED_DELIVERY)
                        })
                })
                .count();
            ok(&serde_json::json!({
                "partitioned": target,
                "healed_after_ms": d.as_millis() as u64,
                "connector_requests_refused": core.partitioned_requests() - refused_before,
                "webhook_attempts_failed": failed_deliveries,
            }))
        }
        ("nemesis", "rotate") => {
            // The platform issues a new webhook secret and signs with both for
            // the overlap (`duration`, 24 h by default). The connector is not
            // told the new one: after the overlap it must cope without webhooks.
            let target = step
                .target
                .as_ref()
                .map(|t| t.get_ref().clone())
                .unwrap_or_else(|| "pos".into());
            let overlap = step
                .duration
                .as_ref()
                .and_then(|d| parse_duration(d.get_ref()))
                .unwrap_or(Duration::from_secs(86_400));
            let client = match target.as_str() {
                "shop" => shop.0.clone(),
                "pay" => pay.0.clone(),
                _ => pos.0.clone(),
            };
            let subs = client.subscriptions().await.map_err(|e| failed(&e))?;
            let mut rotated = Vec::new();
            for sub in subs.data {
                let body = omnisim_api::common::RotateSecret {
                    overlap_secs: Some(overlap.as_secs()),
                };
                let r = client
                    .rotate_secret(&sub.id, &body)
                    .await
                    .map_err(|e| failed(&e))?;
                rotated.push(r.id);
            }
            ok(
                &serde_json::json!({ "target": target, "rotated": rotated, "overlap_secs": overlap.as_secs() }),
            )
        }
        ("nemesis", "restart") => {
            restart(ctx).await?;
            ok(&serde_json::json!({ "engine": "restarted" }))
        }
        (actor, action) => Err(Failed::Refused(
            "unsupported".into(),
            serde_json::json!({ "error": format!("`{actor}` `{action}` is not supported by this runner") }),
        )),
    }
}

/// Sets `target`'s faults; with `keep_partition`, its partition flag stays
/// as it is (a `partition` step's window is not cut short by other faults).
fn set_faults(
    ctx: &Ctx,
    target: &str,
    mut faults: Faults,
    keep_partition: bool,
) -> Result<(), Failed> {
    // Validation makes `target` one of the three platforms.
    let Some(core) = ctx.world.sims().core(target) else {
        return Err(Failed::Refused(
            "bad_faults".into(),
            serde_json::json!({ "error": format!("no platform `{target}`") }),
        ));
    };
    if keep_partition {
        faults.partition = core.partitioned();
    }
    core.set_faults(faults).map(|_| ()).map_err(|e| {
        Failed::Refused(
            "bad_faults".into(),
            serde_json::json!({ "error": e.message }),
        )
    })
}

async fn restart(ctx: &Ctx) -> Result<(), Failed> {
    let r = ctx.world.start_connector(ctx.strategy.clone()).await;
    r.map_err(|e| {
        Failed::Refused(
            "restart_failed".into(),
            serde_json::json!({ "error": e.to_string() }),
        )
    })
}
