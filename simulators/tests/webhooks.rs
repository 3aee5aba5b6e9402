//! The webhook dispatcher over real HTTP, against a `wiremock` receiver that
//! verifies each signature scheme with the secret returned at subscription.
//! A toy platform per scheme emits events on demand, so these tests exercise
//! only the shared delivery machinery.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use chrono::{DateTime, Utc};
use omnisim_api::common::Faults;
use omnisim_api::{Clock, Event, HttpTransport, Scheme};
use omnisim_simulators::shared::{RouteTable, RouterState, assemble};
use omnisim_simulators::webhooks::RetryPolicy;
use omnisim_simulators::{CoreConfig, Platform, SimResult, Simulator};
use utoipa_axum::router::OpenApiRouter;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

macro_rules! toy {
    ($name:ident, $platform:literal, $scheme:expr, $retry:expr) => {
        #[derive(Debug, Default)]
        struct $name {
            emitted: u32,
        }
        impl Platform for $name {
            const NAME: &'static str = $platform;
            const SCHEME: Scheme = $scheme;
            const TOPICS: &'static [&'static str] = &["thing.happened"];
            fn retry_policy() -> RetryPolicy {
                $retry
            }
            fn snapshot(&self) -> serde_json::Value {
                serde_json::json!({ "emitted": self.emitted })
            }
        }
    };
}

toy!(ToyPay, "pay", Scheme::Stripe, RetryPolicy::stripe());
toy!(ToyShop, "shop", Scheme::Shopify, RetryPolicy::shopify());
toy!(ToyPos, "pos", Scheme::Square, RetryPolicy::square());

/// Retry delays become milliseconds: one minute → 1 ms.
const FAST: u32 = 60_000;

fn simulator<P: Platform>() -> Arc<Simulator<P>> {
    Simulator::new(CoreConfig {
        clock: Clock::real(),
        api_key: "k".into(),
        seed: 9,
        webhook_transport: Arc::new(HttpTransport::new(Duration::from_secs(5))),
        delay_scale: FAST,
    })
}

fn emit<P: Platform>(sim: &Simulator<P>, n: u32) -> SimResult<()> {
    for _ in 0..n {
        sim.commit(|_, fx| {
            fx.emit_value("thing.happened", serde_json::json!({ "n": 1 }));
            Ok(())
        })?;
    }
    Ok(())
}

async fn subscribe<P: Platform>(sim: &Arc<Simulator<P>>, url: &str) -> String {
    let core = &sim.core;
    let sub = core
        .webhooks
        .create(core, url.to_owned(), vec!["*".into()], P::TOPICS)
        .expect("subscription");
    sub.secret.expect("secret on create")
}

/// Polls until `pred` holds on the received requests, for up to 20 s.
async fn received_until(server: &MockServer, pred: impl Fn(&[Request]) -> bool) -> Vec<Request> {
    for _ in 0..2000 {
        let got = server.received_requests().await.unwrap_or_default();
        if pred(&got) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "condition not reached; received {:?}",
        server.received_requests().await.map(|r| r.len())
    );
}

fn verify(scheme: Scheme, secret: &str, url: &str, req: &Request, now: DateTime<Utc>) -> bool {
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers.iter() {
        headers.append(name.clone(), value.clone());
    }
    omnisim_api::signing::verify(scheme, &[secret.to_owned()], url, &headers, &req.body, now)
        .is_ok()
}

async fn signed_delivery_verifies<P: Platform>() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sim = simulator::<P>();
    let url = format!("{}/hooks/{}", server.uri(), P::NAME);
    let secret = subscribe(&sim, &url).await;
    emit(&sim, 3).unwrap();
    let got = received_until(&server, |r| r.len() >= 3).await;
    let now = sim.core.clock.now();
    let mut seqs = Vec::new();
    for req in &got {
        assert!(
            verify(P::SCHEME, &secret, &url, req, now),
            "{} signature must verify",
            P::NAME
        );
        assert!(!verify(P::SCHEME, "whsec_wrong", &url, req, now));
        let event: Event = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(event.kind, "thing.happened");
        seqs.push(event.seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, [1, 2, 3]);
}

#[tokio::test]
async fn stripe_signatures_verify() {
    signed_delivery_verifies::<ToyPay>().await;
}

#[tokio::test]
async fn shopify_signatures_verify() {
    signed_delivery_verifies::<ToyShop>().await;
}

#[tokio::test]
async fn square_signatures_verify() {
    signed_delivery_verifies::<ToyPos>().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_event_id() {
    let server = MockServer::start().await;
    // Two failures, then success.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sim = simulator::<ToyPay>();
    subscribe(&sim, &format!("{}/hook", server.uri())).await;
    emit(&sim, 1).unwrap();
    let got = received_until(&server, |r| r.len() >= 3).await;
    let ids: Vec<String> = got
        .iter()
        .map(|r| serde_json::from_slice::<Event>(&r.body).unwrap().id)
        .collect();
    assert_eq!(ids, ["evt_pay_00000001"; 3]);
    // The dispatcher records an attempt after its answer arrives: wait for the third record.
    for _ in 0..2000 {
        if sim.core.webhooks.deliveries().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let attempts: Vec<u32> = sim
        .core
        .webhooks
        .deliveries()
        .iter()
        .map(|d| d.attempt)
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(sim.core.webhooks.list()[0].consecutive_failures, 0);
}

#[tokio::test]
async fn shopify_disables_a_subscription_after_eight_failures() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let sim = simulator::<ToyShop>();
    subscribe(&sim, &format!("{}/hook", server.uri())).await;
    emit(&sim, 1).unwrap();
    received_until(&server, |r| r.len() >= 8).await;
    for _ in 0..2000 {
        if sim.core.webhooks.list()[0].status == omnisim_api::common::SubscriptionStatus::Disabled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sub = &sim.core.webhooks.list()[0];
    assert_eq!(
        sub.status,
        omnisim_api::common::SubscriptionStatus::Disabled
    );
    assert_eq!(sub.consecutive_failures, 8);
    // Nothing more goes to a disabled subscription.
    emit(&sim, 1).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 8);
}

#[tokio::test]
async fn duplicate_fault_delivers_each_event_twice() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sim = simulator::<ToyPos>();
    subscribe(&sim, &format!("{}/hook", server.uri())).await;
    let mut faults = Faults::default();
    faults.webhooks.duplicate_rate = 1.0;
    faults.webhooks.duplicate_simultaneous = true;
    sim.core.set_faults(faults).unwrap();
    emit(&sim, 2).unwrap();
    let got = received_until(&server, |r| r.len() >= 4).await;
    let mut ids: Vec<String> = got
        .iter()
        .map(|r| serde_json::from_slice::<Event>(&r.body).unwrap().id)
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "evt_pos_00000001",
            "evt_pos_00000001",
            "evt_pos_00000002",
            "evt_pos_00000002"
        ]
    );
}

#[tokio::test]
async fn dropped_events_are_not_delivered_unless_redelivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sim = simulator::<ToyPay>();
    subscribe(&sim, &format!("{}/hook", server.uri())).await;
    let mut faults = Faults::default();
    faults.webhooks.drop_rate = 1.0;
    sim.core.set_faults(faults.clone()).unwrap();
    emit(&sim, 1).unwrap();
    faults.webhooks.redeliver_dropped_after_ms = Some(20);
    sim.core.set_faults(faults).unwrap();
    emit(&sim, 1).unwrap();
    let got = received_until(&server, |r| !r.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got_after = server.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got_after.len(), 1, "the first event is lost for good");
    let event: Event = serde_json::from_slice(&got_after[0].body).unwrap();
    assert_eq!(event.id, "evt_pay_00000002");
    // The change feed still has both: polling repairs the gap.
    use omnisim_simulators::SimControl;
    assert_eq!(sim.events_page(0, 10).events.len(), 2);
}

#[tokio::test]
async fn rotated_secrets_both_verify_during_the_overlap() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sim = simulator::<ToyPay>();
    let url = format!("{}/hook", server.uri());
    let old = subscribe(&sim, &url).await;
    let id = sim.core.webhooks.list()[0].id.clone();
    let new = sim
        .core
        .webhooks
        .rotate(&sim.core, &id, 3600)
        .unwrap()
        .secret
        .unwrap();
    assert_ne!(old, new);
    emit(&sim, 1).unwrap();
    let got = received_until(&server, |r| !r.is_empty()).await;
    let now = sim.core.clock.now();
    assert!(verify(Scheme::Stripe, &old, &url, &got[0], now));
    assert!(verify(Scheme::Stripe, &new, &url, &got[0], now));
}

/// The toy platforms also serve through the normal router: the dispatcher is
/// fed by commits made by handlers, not only by direct calls.
#[tokio::test]
async fn events_committed_through_a_router_are_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sim = simulator::<ToyShop>();
    type Ctx = Arc<Simulator<ToyShop>>;
    async fn fire(State(state): State<RouterState<Ctx>>) -> &'static str {
        let _ = emit(&state.own, 1);
        "ok"
    }
    fn own() -> OpenApiRouter<RouterState<Ctx>> {
        OpenApiRouter::new().route("/fire", axum::routing::post(fire))
    }
    static TABLE: RouteTable<Ctx> = RouteTable::new();
    let app: Router = assemble(
        Arc::clone(&sim),
        Arc::clone(&sim),
        &TABLE,
        own,
        "toy",
        Router::new(),
    );
    subscribe(&sim, &format!("{}/hook", server.uri())).await;
    let req = http::Request::post("/fire")
        .header("authorization", "Bearer k")
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt;
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let got = received_until(&server, |r| !r.is_empty()).await;
    assert_eq!(got[0].headers["x-shopify-topic"], "thing.happened");
    assert_eq!(got[0].headers["x-shopify-webhook-id"], "evt_shop_00000001");
}
