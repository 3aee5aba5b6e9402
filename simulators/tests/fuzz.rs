//! Property-based fuzzing of every endpoint of the three routers, in process.
//!
//! The endpoints come from each router's own `/openapi.json`, so a new route
//! is fuzzed without touching this file. For each operation, proptest builds
//! JSON bodies shaped by its request schema and then damages them: wrong
//! types, missing and unknown fields, huge and negative numbers, odd unicode
//! (NUL, RTL marks, emoji, lone combining marks). Path parameters get the same
//! treatment. The invariant for every answer:
//! - the router does not panic (a panic fails the test);
//! - no 5xx, except 503/504 that the fault-injection endpoint was just told to
//!   produce (faults are reset after each case of that endpoint);
//! - every 4xx is JSON `{"error": {"code", "message"}}`, and a 400 or 422 about
//!   the body names the field at fault.
//!
//! `PROPTEST_CASES` sets the cases per endpoint (default 48).

mod support;

use std::collections::BTreeMap;

use http::StatusCode;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use support::{App, World};

fn odd_string() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("\u{202e}gnp.exe".to_owned()),
        Just("é\u{301}\u{301}🧪👩‍👩‍👧".to_owned()),
        Just("a".repeat(10_000)),
        Just("../../etc/passwd".to_owned()),
        Just("%00%ff".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just("99999999999999999999999999999.99".to_owned()),
        Just("web".to_owned()),
        Just("store-1".to_owned()),
        Just("*".to_owned()),
        "\\PC{0,40}",
        "[a-z_]{1,12}",
    ]
    .boxed()
}

fn odd_number() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(1e300)),
        Just(json!(-1e300)),
        Just(json!(0.000001)),
        Just(json!(2.5)),
        any::<i64>().prop_map(|n| json!(n)),
        (0i64..100).prop_map(|n| json!(n)),
    ]
    .boxed()
}

/// A value of a random JSON type.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        odd_number(),
        odd_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..8 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or_default();
                s = &doc["components"]["schemas"][name];
            }
            None => break,
        }
    }
    s
}

fn types_of(schema: &Value) -> Vec<String> {
    match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A value roughly of `schema`'s shape: right types mostly, odd contents.
fn shaped(doc: &Value, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let schema = resolve(doc, schema);
    if depth > 4 {
        return any_json();
    }
    if let Some(e) = schema["enum"].as_array()
        && !e.is_empty()
    {
        let choices = e.clone();
        return prop_oneof![
            4 => prop::sample::select(choices),
            1 => odd_string().prop_map(Value::String),
        ]
        .boxed();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(alts) = schema[key].as_array()
            && !alts.is_empty()
        {
            let strategies: Vec<BoxedStrategy<Value>> =
                alts.iter().map(|a| shaped(doc, a, depth + 1)).collect();
            if key == "allOf" {
                // Merge the parts' objects.
                return strategies
                    .into_iter()
                    .fold(Just(json!({})).boxed(), |acc, s| {
                        (acc, s)
                            .prop_map(|(mut a, b)| {
                                if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
                                    a.extend(b.clone());
                                }
                                a
                            })
                            .boxed()
                    });
            }
            return prop::strategy::Union::new(strategies).boxed();
        }
    }
    let types = types_of(schema);
    let ty = types
        .iter()
        .find(|t| *t != "null")
        .cloned()
        .unwrap_or_else(|| {
            if schema.get("properties").is_some() {
                "object".into()
            } else {
                String::new()
            }
        });
    match ty.as_str() {
        "object" => {
            let props: Vec<(String, Value)> = schema["properties"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = props
                .iter()
                .map(|(k, v)| {
                    let k = k.clone();
                    prop_oneof![
                        8 => shaped(doc, v, depth + 1).prop_map(move |x| Some((k.clone(), x))),
                        1 => Just(None),
                    ]
                    .boxed()
                })
                .collect();
            (
                fields,
                prop::option::weighted(0.1, ("[a-z_]{1,10}", any_json())),
            )
                .prop_map(|(fs, extra)| {
                    let mut m: Map<String, Value> = fs.into_iter().flatten().collect();
                    if let Some((k, v)) = extra {
                        m.insert(k, v);
                    }
                    Value::Object(m)
                })
                .boxed()
        }
        "array" => {
            let item = shaped(doc, &schema["items"], depth + 1);
            prop::collection::vec(item, 0..4)
                .prop_map(Value::Array)
                .boxed()
        }
        "integer" | "number" => odd_number(),
        "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
        "string" => match schema["format"].as_str() {
            Some("date-time") => prop_oneof![
                Just(json!("2026-03-02T09:00:00Z")),
                Just(json!("9999-12-31T23:59:59Z")),
                Just(json!("0000-01-01T00:00:00Z")),
                odd_string().prop_map(Value::String),
            ]
            .boxed(),
            _ => prop_oneof![
                3 => odd_string().prop_map(Value::String),
                1 => Just(json!("12.50")),
                1 => Just(json!("HOT")),
            ]
            .boxed(),
        },
        _ => any_json(),
    }
}

/// A body of the schema's shape, then maybe damaged: a field's type swapped
/// or the whole body replaced by something else.
fn body(doc: &Value, schema: &Value) -> BoxedStrategy<Value> {
    let base = shaped(doc, schema, 0);
    prop_oneof![
        6 => base.clone(),
        3 => (base, "[a-z_]{0,10}", any_json()).prop_map(|(mut b, _, junk)| {
            if let Some(m) = b.as_object_mut() && let Some(k) = m.keys().next().cloned() {
                m.insert(k, junk);
            }
            b
        }),
        1 => any_json(),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
    schema: Option<Value>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if let Some(op) = item.get(method) {
                let schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
                out.push(Operation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    schema: (!schema.is_null()).then_some(schema),
                });
            }
        }
    }
    out
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn fill_path(path: &str, params: &[String]) -> String {
    let mut out = String::new();
    let mut i = 0;
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        let v = params.get(i).cloned().unwrap_or_default();
        out.push_str(&if v.is_empty() {
            "x".to_owned()
        } else {
            encode(&v)
        });
        i += 1;
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

async fn check(app: &App, op: &Operation, path: &str, body: Option<&Value>) -> Result<(), String> {
    let raw = body.map(|b| serde_json::to_vec(b).unwrap());
    let r = app.send(&op.method, path, raw, None).await;
    let injected = op.path == "/_control/faults";
    let what = format!(
        "{} {path} {} → {}: {}",
        op.method,
        body.map(Value::to_string).unwrap_or_default(),
        r.status,
        String::from_utf8_lossy(&r.raw)
    );
    if r.status.is_server_error() && !injected {
        return Err(format!("5xx: {what}"));
    }
    if r.status.is_client_error() {
        let e = &r.json["error"];
        if !e["code"].is_string() || !e["message"].is_string() {
            return Err(format!("4xx without a JSON error: {what}"));
        }
        // A body that is not an object at all (null, an array) has no field
        // to name; its message says what was expected instead.
        let about_body = matches!(
            r.status,
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
        ) && body.is_some_and(Value::is_object);
        if about_body && !e["field"].is_string() {
            return Err(format!("a 400/422 that names no field: {what}"));
        }
    }
    Ok(())
}

fn fuzz_router(name: &str, app_of: fn(&World) -> App) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let doc = rt.block_on(async {
        let w = World::new();
        app_of(&w).get_unauthed("/openapi.json").await.json
    });
    let ops = operations(&doc);
    assert!(
        ops.len() >= 10,
        "{name}: only {} operations found",
        ops.len()
    );
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let mut failures = BTreeMap::new();
    for op in &ops {
        // One world per operation: state builds up across its cases.
        let (world, app) = rt.block_on(async {
            let w = World::new();
            let app = app_of(&w);
            // Something to find: a product/item and a location exist.
            let _ = app
                .post(
                    "/v1/products",
                    json!({"sku": "HOT", "title": "Hot", "price": "12.50", "currency": "USD"}),
                )
                .await;
            let _ = app
                .post(
                    "/v1/items",
                    json!({"sku": "HOT", "name": "Hot", "price": "12.50", "currency": "USD"}),
                )
                .await;
            (w, app)
        });
        let params = prop::collection::vec(odd_string(), 3);
        let strategy = match &op.schema {
            Some(s) => (params, body(&doc, s).prop_map(Some)).boxed(),
            None => (params, Just(None)).boxed(),
        };
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&strategy, |(params, b)| {
            let path = fill_path(&op.path, &params);
            let outcome = rt.block_on(async {
                let r = check(&app, op, &path, b.as_ref()).await;
                if op.path == "/_control/faults" {
                    app.post("/_control/faults", json!({})).await;
                }
                r
            });
            outcome.map_err(TestCaseError::fail)
        });
        if let Err(e) = result {
            failures.insert(format!("{} {}", op.method, op.path), e.to_string());
        }
        drop(world);
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {} operations broke the invariant:\n{}",
        failures.len(),
        ops.len(),
        failures
            .iter()
            .map(|(k, v)| format!("- {k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_pos_endpoint_answers_fuzzed_bodies_with_a_4xx_naming_the_field() {
    fuzz_router("pos", World::pos);
}

#[test]
fn every_shop_endpoint_answers_fuzzed_bodies_with_a_4xx_naming_the_field() {
    fuzz_router("shop", World::shop);
}

#[test]
fn every_pay_endpoint_answers_fuzzed_bodies_with_a_4xx_naming_the_field() {
    fuzz_router("pay", World::pay);
}
