//! Routes every simulator serves alike, and [`assemble`], which puts a
//! platform's own routes, these, the OpenAPI document and the middleware stack
//! together into one axum `Router`.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::http::Uri;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use omnisim_api::common::{
    AdvanceClock, ClockReading, CreateLocation, CreateWebhookSubscription, Faults, Location,
    LocationList, RotateSecret, ThrottleRecord, WebhookSubscription, WebhookSubscriptionList,
};
use omnisim_api::{ErrorBody, EventPage};
use serde::Deserialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::{Core, Platform, SimControl, Simulator};
use crate::dialects::WireRule;
use crate::error::{ErrorKind, SimError, SimResult};
use crate::extract::{BODY_LIMIT_BYTES, Json, Query};
use crate::layers;
use crate::webhooks::{DeliveryRecord, ROTATION_OVERLAP_SECS};

/// The state of the shared routes: any simulator, behind its control trait.
pub type Shared = Arc<dyn SimControl>;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

#[derive(OpenApi)]
#[openapi(modifiers(&BearerAuth), components(schemas(ErrorBody)))]
struct BaseDoc;

/// `GET /healthz`: liveness, without auth.
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()),
    responses((status = 200, description = "The simulator is up", body = Object)))]
async fn healthz(State(sim): State<Shared>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok", "platform": sim.core().platform }))
}

/// Change-feed query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The cursor from the last page's `next_cursor`; from the start if absent.
    #[serde(default)]
    #[param(pattern = "^[0-9]{0,19}$")]
    after: Option<String>,
    /// Page size, 1 to 1000 (100 by default).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// `GET /v1/events`: the change feed, in commit order.
#[utoipa::path(get, path = "/v1/events", tag = "feed", params(EventsQuery),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody)))]
async fn events(
    State(sim): State<Shared>,
    Query(q): Query<EventsQuery>,
) -> SimResult<axum::Json<EventPage>> {
    let after = match q.after.as_deref() {
        None | Some("") => 0,
        Some(c) => c.parse::<u64>().map_err(|_| {
            SimError::malformed(
                "parameter_invalid",
                format!("`{c}` is not a cursor from this feed"),
            )
            .field("after")
        })?,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(SimError::bad_value("limit", "limit is from 1 to 1000"));
    }
    Ok(axum::Json(sim.events_page(after, limit as usize)))
}

/// `POST /v1/webhook_subscriptions`: subscribe; the answer carries the secret.
#[utoipa::path(post, path = "/v1/webhook_subscriptions", tag = "webhooks",
    request_body = CreateWebhookSubscription,
    responses((status = 200, body = WebhookSubscription), (status = 422, body = ErrorBody)))]
async fn create_subscription(
    State(sim): State<Shared>,
    Json(req): Json<CreateWebhookSubscription>,
) -> SimResult<axum::Json<WebhookSubscription>> {
    let core = sim.core();
    core.webhooks
        .create(core, req.url, req.topics, sim.topics())
        .map(axum::Json)
}

/// `GET /v1/webhook_subscriptions`: every subscription, without secrets.
#[utoipa::path(get, path = "/v1/webhook_subscriptions", tag = "webhooks",
    responses((status = 200, body = WebhookSubscriptionList)))]
async fn list_subscriptions(State(sim): State<Shared>) -> axum::Json<WebhookSubscriptionList> {
    axum::Json(WebhookSubscriptionList {
        data: sim.core().webhooks.list(),
    })
}

/// `DELETE /v1/webhook_subscriptions/{id}`.
#[utoipa::path(delete, path = "/v1/webhook_subscriptions/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = WebhookSubscription), (status = 404, body = ErrorBody)))]
async fn delete_subscription(
    State(sim): State<Shared>,
    Path(id): Path<String>,
) -> SimResult<axum::Json<WebhookSubscription>> {
    sim.core().webhooks.delete(&id).map(axum::Json)
}

/// `POST /v1/webhook_subscriptions/{id}/rotate_secret`: a new secret; the old
/// one keeps signing during the overlap, so both verify.
#[utoipa::path(post, path = "/v1/webhook_subscriptions/{id}/rotate_secret", tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    request_body(content = RotateSecret, description = "May be empty"),
    responses((status = 200, body = WebhookSubscription), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(sim): State<Shared>,
    Path(id): Path<String>,
    Json(req): Json<RotateSecret>,
) -> SimResult<axum::Json<WebhookSubscription>> {
    let core = sim.core();
    core.webhooks
        .rotate(core, &id, req.overlap_secs.unwrap_or(ROTATION_OVERLAP_SECS))
        .map(axum::Json)
}

/// `GET /v1/locations`.
#[utoipa::path(get, path = "/v1/locations", tag = "locations",
    responses((status = 200, body = LocationList)))]
async fn list_locations(State(sim): State<Shared>) -> SimResult<axum::Json<LocationList>> {
    sim.list_locations()
        .map(|data| axum::Json(LocationList { data }))
        .ok_or_else(|| SimError::not_found("not_found", "this platform has no locations"))
}

/// `POST /v1/locations`: add a store, warehouse or online location.
#[utoipa::path(post, path = "/v1/locations", tag = "locations", request_body = CreateLocation,
    responses((status = 200, body = Location), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_location(
    State(sim): State<Shared>,
    Json(req): Json<CreateLocation>,
) -> SimResult<axum::Json<Location>> {
    sim.create_location(req).map(axum::Json)
}

/// `POST /_control/reset`: back to the default state (default locations, no
/// data, no events, no subscriptions, no faults).
#[utoipa::path(post, path = "/_control/reset", tag = "control",
    responses((status = 200, description = "Reset", body = Object)))]
async fn reset(State(sim): State<Shared>) -> axum::Json<serde_json::Value> {
    sim.reset();
    axum::Json(serde_json::json!({ "reset": true, "platform": sim.core().platform }))
}

/// `GET /_control/faults`: the fault settings in force.
#[utoipa::path(get, path = "/_control/faults", tag = "control", responses((status = 200, body = Faults)))]
async fn get_faults(State(sim): State<Shared>) -> axum::Json<Faults> {
    axum::Json(sim.core().faults())
}

/// `POST /_control/faults`: replace the fault settings (an empty body clears them).
#[utoipa::path(post, path = "/_control/faults", tag = "control", request_body = Faults,
    responses((status = 200, body = Faults), (status = 422, body = ErrorBody)))]
async fn set_faults(
    State(sim): State<Shared>,
    Json(faults): Json<Faults>,
) -> SimResult<axum::Json<Faults>> {
    sim.core().set_faults(faults).map(axum::Json)
}

/// `GET /_control/snapshot`: the whole state as JSON.
#[utoipa::path(get, path = "/_control/snapshot", tag = "control",
    responses((status = 200, description = "Platform state, event count, subscriptions and faults", body = Object)))]
async fn snapshot(State(sim): State<Shared>) -> axum::Json<serde_json::Value> {
    axum::Json(sim.snapshot())
}

/// `GET /_control/clock`: simulated time now.
#[utoipa::path(get, path = "/_control/clock", tag = "control", responses((status = 200, body = ClockReading)))]
async fn get_clock(State(sim): State<Shared>) -> axum::Json<ClockReading> {
    axum::Json(ClockReading {
        now: sim.core().clock.now(),
    })
}

/// `POST /_control/clock`: move simulated time forward (expiries, settlements).
/// The clock is shared by the simulators of one `serve`.
#[utoipa::path(post, path = "/_control/clock", tag = "control", request_body = AdvanceClock,
    responses((status = 200, body = ClockReading), (status = 422, body = ErrorBody)))]
async fn advance_clock(
    State(sim): State<Shared>,
    Json(req): Json<AdvanceClock>,
) -> SimResult<axum::Json<ClockReading>> {
    if req.advance_secs > 366 * 24 * 3600 {
        return Err(SimError::bad_value(
            "advance_secs",
            "advance at most one year at a time",
        ));
    }
    sim.core()
        .clock
        .advance(std::time::Duration::from_secs(req.advance_secs));
    // Run whatever came due (expiries, settlements) now.
    let _ = sim.events_page(0, 1);
    Ok(axum::Json(ClockReading {
        now: sim.core().clock.now(),
    }))
}

/// `GET /_control/deliveries`: every webhook delivery attempt (newest 10,000).
#[utoipa::path(get, path = "/_control/deliveries", tag = "control",
    responses((status = 200, description = "Delivery attempts, oldest first", body = Object)))]
async fn deliveries(State(sim): State<Shared>) -> axum::Json<serde_json::Value> {
    let d: Vec<DeliveryRecord> = sim.core().webhooks.deliveries();
    axum::Json(serde_json::json!({ "data": d }))
}

/// `GET /_control/throttle`: the connector's requests the rate limit refused,
/// and those it sent again before the Retry-After it was given.
#[utoipa::path(get, path = "/_control/throttle", tag = "control",
    responses((status = 200, body = ThrottleRecord)))]
async fn throttle(State(sim): State<Shared>) -> axum::Json<ThrottleRecord> {
    axum::Json(sim.core().throttle())
}

/// Adds to every operation the answers the shared layers can give, so the
/// document matches what clients actually see: 401 (auth), 400 (malformed
/// input), 429 (rate limit), 503 and 504 (injected faults) everywhere; 413
/// (body limit), 409 and 422 (idempotency) on POST, PUT and PATCH.
fn document_shared_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    let everywhere = [
        (
            "400",
            "Malformed request: `invalid_json`, `parameter_missing`, `parameter_unknown`, `parameter_invalid`",
        ),
        ("401", "Missing or wrong API key: `unauthorized`"),
        ("404", "Unknown id or path"),
        ("429", "Rate limited: `rate_limited`, with `Retry-After`"),
        (
            "503",
            "Injected fault: `service_unavailable` (nothing applied)",
        ),
        ("504", "Injected fault: `timeout` (applied, answer lost)"),
    ];
    let writes = [
        ("409", "Conflict, or `idempotency_key_in_use`"),
        ("413", "Body over 1 MiB: `body_too_large`"),
        ("422", "Semantic error, or `idempotency_error`"),
    ];
    for (path, item) in api.paths.paths.iter_mut() {
        let open = path == "/healthz" || path == "/openapi.json";
        let ops = [
            (&mut item.get, false),
            (&mut item.delete, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.patch, true),
        ];
        for (op, write) in ops {
            let Some(op) = op.as_mut() else { continue };
            let extra = everywhere
                .iter()
                .filter(|_| !open)
                .chain(writes.iter().filter(|_| write));
            for (code, description) in extra {
                op.responses
                    .responses
                    .entry((*code).to_owned())
                    .or_insert_with(|| error(description).into());
            }
        }
    }
}

/// The answer to an unknown path, in the wire its path speaks (a dialect's
/// unknown path answers in that dialect's shape).
fn not_found(platform: &'static str, uri: &Uri) -> Response {
    let path = uri.path();
    WireRule::ByPath(platform).wire(path).error_response(
        path,
        SimError::not_found("not_found", "no such path; see /openapi.json"),
    )
}

fn method_not_allowed(platform: &'static str, uri: &Uri) -> Response {
    let path = uri.path();
    WireRule::ByPath(platform).wire(path).error_response(
        path,
        SimError::new(
            ErrorKind::MethodNotAllowed,
            "method_not_allowed",
            "this path does not serve that method; see /openapi.json",
        ),
    )
}

/// Routes every simulator serves.
fn common_routes<C>(with_locations: bool) -> OpenApiRouter<RouterState<C>>
where
    C: Clone + Send + Sync + 'static,
{
    let mut r = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(events))
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(delete_subscription))
        .routes(routes!(rotate_secret))
        .routes(routes!(reset))
        .routes(routes!(get_faults, set_faults))
        .routes(routes!(snapshot))
        .routes(routes!(get_clock, advance_clock))
        .routes(routes!(deliveries))
        .routes(routes!(throttle));
    if with_locations {
        r = r.routes(routes!(list_locations, create_location));
    }
    r
}

/// What a simulator's handlers run on: the platform's own context (`own`,
/// which its handlers extract as `State<…>` through `FromRef`) and the same
/// simulator behind its control trait, for the shared routes.
#[derive(Clone)]
pub struct RouterState<C> {
    /// The platform's own handler state.
    pub own: C,
    /// The simulator, for the shared routes.
    pub shared: Shared,
}

impl<C> FromRef<RouterState<C>> for Shared {
    fn from_ref(state: &RouterState<C>) -> Shared {
        Arc::clone(&state.shared)
    }
}

/// A platform's route table and OpenAPI document, built once per process and
/// per variant (with or without the location routes). Neither depends on any
/// one simulator, and generating the document is most of the cost of a
/// router: an exploration builds three simulators for every case.
pub struct RouteTable<C> {
    with_locations: OnceLock<Router<RouterState<C>>>,
    without_locations: OnceLock<Router<RouterState<C>>>,
}

impl<C> RouteTable<C> {
    /// An empty table, filled on first use.
    pub const fn new() -> Self {
        RouteTable {
            with_locations: OnceLock::new(),
            without_locations: OnceLock::new(),
        }
    }
}

impl<C> Default for RouteTable<C> {
    fn default() -> Self {
        RouteTable::new()
    }
}

/// Builds a simulator's whole `Router`: its own routes (`own`, from the
/// platform's `table`), the shared ones, `/openapi.json`, JSON 404/405, the
/// routes of the `dialect` served on the same listener (Shopify on the
/// shop, Square on the POS; an empty `Router` for none), and auth → faults
/// → idempotency in front, all on `sim` and `ctx`.
pub fn assemble<S: Platform, C>(
    sim: Arc<Simulator<S>>,
    ctx: C,
    table: &'static RouteTable<C>,
    own: fn() -> OpenApiRouter<RouterState<C>>,
    title: &str,
    dialect: Router,
) -> Router
where
    C: Clone + Send + Sync + 'static,
{
    let core = Arc::clone(&sim.core);
    let has_locations = sim.read(|s| s.locations().is_some());
    let cell = if has_locations {
        &table.with_locations
    } else {
        &table.without_locations
    };
    let routes = cell
        .get_or_init(|| route_table::<S, C>(own(), has_locations, title))
        .clone();
    let shared: Shared = sim;
    let routes = routes
        .with_state(RouterState { own: ctx, shared })
        .merge(dialect);
    layered(core, WireRule::ByPath(S::NAME), routes)
}

/// Puts the shared middleware (body limit; auth → faults → idempotency in
/// the wire each request speaks by `wires`) in front of `routes`. The
/// Stripe dialect's router, which is not assembled, uses it directly.
pub fn layered(core: Arc<Core>, wires: WireRule, routes: Router) -> Router {
    routes
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(from_fn_with_state(
            layers::StackState { core, wires },
            layers::stack,
        ))
}

/// The routes and the document behind them, with no state yet.
fn route_table<S: Platform, C>(
    own: OpenApiRouter<RouterState<C>>,
    has_locations: bool,
    title: &str,
) -> Router<RouterState<C>>
where
    C: Clone + Send + Sync + 'static,
{
    let mut doc = BaseDoc::openapi();
    doc.info.title = title.to_owned();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.description = Some(format!(
        "omnisim's {} simulator. Every POST takes an optional `Idempotency-Key`. \
         Errors are `{{\"error\": {{\"code\", \"message\", \"field\"}}}}`.",
        S::NAME
    ));
    let (router, mut api) = OpenApiRouter::with_openapi(doc)
        .merge(own)
        .merge(common_routes(has_locations))
        .split_for_parts();
    document_shared_responses(&mut api);
    let api = Arc::new(crate::event_docs::document(S::NAME, api));
    router
        .route(
            "/openapi.json",
            get(move || {
                let api = Arc::clone(&api);
                async move { axum::Json(api.as_ref().clone()).into_response() }
            }),
        )
        .fallback(|uri: Uri| async move { not_found(S::NAME, &uri) })
        .method_not_allowed_fallback(|uri: Uri| async move { method_not_allowed(S::NAME, &uri) })
}
