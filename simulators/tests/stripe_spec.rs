//! The Stripe dialect's objects checked against Stripe's published OpenAPI
//! document (stripe/openapi `openapi/spec3.json`), or against its fixtures
//! (`openapi/fixtures3.json`, an example of every object with every field):
//! every required field present with its type, no field Stripe does not
//! have. CI cannot reach the spec, so the path comes from
//! `OMNISIM_STRIPE_OPENAPI`; without it the test prints a notice and passes.
//!
//! ```sh
//! OMNISIM_STRIPE_OPENAPI=path/to/spec3.json cargo test -p omnisim-simulators --test stripe_spec -- --nocapture
//! ```

mod support;

use axum::body::Body;
use http::Request;
use serde_json::Value;
use support::{App, World};

async fn call(app: &App, method: &str, path: &str, body: &str) -> Value {
    let r = app
        .request(
            Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", "Bearer sk_test_spec")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
        .await;
    assert!(
        r.status.is_success() || r.status.as_u16() == 402,
        "{path}: {}",
        r.json
    );
    r.json
}

/// One of each object the dialect serves, by its Stripe schema name.
async fn samples() -> Vec<(&'static str, Value)> {
    let w = World::new();
    let s = App(w.sims.stripe_router());
    let pi = call(
        &s,
        "POST",
        "/v1/payment_intents",
        "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual&description=x",
    )
    .await;
    let id = pi["id"].as_str().unwrap().to_owned();
    let captured = call(
        &s,
        "POST",
        &format!("/v1/payment_intents/{id}/capture"),
        "amount_to_capture=1500",
    )
    .await;
    let refund = call(
        &s,
        "POST",
        "/v1/refunds",
        &format!("payment_intent={id}&amount=100"),
    )
    .await;
    let charge = call(
        &s,
        "GET",
        &format!(
            "/v1/charges/{}",
            captured["latest_charge"].as_str().unwrap()
        ),
        "",
    )
    .await;
    let declined = call(
        &s,
        "POST",
        "/v1/payment_intents",
        "amount=2000&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true",
    )
    .await;
    let failed_pi = declined["error"]["payment_intent"].clone();
    let bare = call(
        &s,
        "POST",
        "/v1/payment_intents",
        "amount=2000&currency=usd",
    )
    .await;
    let endpoint = call(
        &s,
        "POST",
        "/v1/webhook_endpoints",
        "url=http://hook.test/x&enabled_events[0]=*",
    )
    .await;
    let events = call(&s, "GET", "/v1/events?limit=100", "").await;
    let mut out = vec![
        ("payment_intent", pi),
        ("payment_intent", captured),
        ("payment_intent", failed_pi),
        ("payment_intent", bare),
        ("refund", refund),
        ("charge", charge),
        ("webhook_endpoint", endpoint),
    ];
    for e in events["data"].as_array().unwrap() {
        out.push(("event", e.clone()));
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `v` against an OpenAPI 3.0 schema; pushes what is wrong.
fn validate(spec: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        return validate(spec, &spec["components"]["schemas"][name], v, at, errors);
    }
    if v.is_null() {
        if schema["nullable"] != Value::Bool(true)
            && !schema.as_object().is_some_and(|o| o.is_empty())
        {
            errors.push(format!("{at}: null, but not nullable"));
        }
        return;
    }
    if let Some(any) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
        let ok = any.iter().any(|s| {
            let mut e = Vec::new();
            validate(spec, s, v, at, &mut e);
            e.is_empty()
        });
        if !ok {
            errors.push(format!("{at}: matches none of anyOf"));
        }
        return;
    }
    let want = schema["type"].as_str().unwrap_or("");
    let got = kind(v);
    let fits = want.is_empty() || want == got || (want == "number" && got == "integer");
    if !fits {
        errors.push(format!("{at}: {got}, spec says {want}"));
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {values:?}"));
    }
    match v {
        Value::Object(o) => {
            let props = schema["properties"].as_object();
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !o.contains_key(r) {
                    errors.push(format!("{at}.{r}: required, missing"));
                }
            }
            if let Some(props) = props {
                for (k, x) in o {
                    match props.get(k) {
                        Some(p) => validate(spec, p, x, &format!("{at}.{k}"), errors),
                        None if schema["additionalProperties"].is_object() => {}
                        None => errors.push(format!("{at}.{k}: not a field of this object")),
                    }
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                validate(spec, &schema["items"], x, &format!("{at}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

/// Checks `v` against a fixture object: the same fields, alike in type
/// wherever both are set (fixtures fill nullable fields with an example).
fn compare(fixture: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let (Value::Object(f), Value::Object(o)) = (fixture, v) else {
        if !fixture.is_null() && !v.is_null() && kind(fixture) != kind(v) {
            errors.push(format!("{at}: {}, Stripe's is {}", kind(v), kind(fixture)));
        }
        return;
    };
    // Fixtures show nested objects in part: their fields are checked at the
    // top level only, their types everywhere.
    let top = !at.contains('.');
    for k in f.keys() {
        if top && !o.contains_key(k) {
            errors.push(format!("{at}.{k}: missing"));
        }
    }
    for (k, x) in o {
        match f.get(k) {
            Some(y) => compare(y, x, &format!("{at}.{k}"), errors),
            // Only the answer to a create carries the secret.
            None if k == "secret" => {}
            None if top => errors.push(format!("{at}.{k}: not a field of Stripe's {at}")),
            None => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn objects_match_stripes_published_shapes() {
    let Some(path) = std::env::var_os("OMNISIM_STRIPE_OPENAPI") else {
        eprintln!(
            "note: OMNISIM_STRIPE_OPENAPI is not set (the path of stripe/openapi's spec3.json or \
             fixtures3.json); skipping the Stripe spec check"
        );
        return;
    };
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut errors = Vec::new();
    let samples = samples().await;
    for (name, v) in &samples {
        let id = v["id"].as_str().unwrap_or("?");
        let at = format!("{name} {id}");
        if doc["components"]["schemas"].is_object() {
            validate(
                &doc,
                &doc["components"]["schemas"][*name],
                v,
                &at,
                &mut errors,
            );
        } else {
            let fixture = &doc["resources"][*name];
            assert!(fixture.is_object(), "no `{name}` in {path:?}");
            if *name == "event" {
                // The fixture's `data.object` is another resource.
                let mut v = v.clone();
                v["data"] = fixture["data"].clone();
                compare(fixture, &v, &at, &mut errors);
            } else {
                compare(fixture, v, &at, &mut errors);
            }
        }
    }
    errors.sort();
    errors.dedup();
    assert!(
        errors.is_empty(),
        "{} mismatches with {path:?}:\n{}",
        errors.len(),
        errors.join("\n")
    );
    eprintln!("checked {} objects against {path:?}", samples.len());
}
