//! Every simulator's `/openapi.json` describes each event type it emits
//! with a real `data` schema (not a bare object), as the typed `Event` of
//! its change feed and as a `webhooks` entry; and every event the shipped
//! scenarios produce validates against the schema of its type.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use omnisim_api::{Clock, Transport};
use omnisim_harness::{suite, validate};
use omnisim_simulators::inprocess::RouterTransport;
use omnisim_simulators::{SimControl, Simulators, SimulatorsConfig};
use serde_json::Value;

async fn documents() -> Vec<(&'static str, Value, &'static [&'static str])> {
    let transport = RouterTransport::new();
    let sims = Simulators::new(SimulatorsConfig {
        clock: Clock::real(),
        api_key: "k".into(),
        seed: 1,
        transport: Arc::new(transport.clone()),
        pay_url: "http://pay.sim".into(),
        delay_scale: 1,
    });
    transport.mount("pos.sim", sims.pos_router());
    transport.mount("shop.sim", sims.shop_router());
    transport.mount("pay.sim", sims.pay_router());
    let mut out = Vec::new();
    for (platform, topics) in [
        ("pos", sims.pos.topics()),
        ("shop", sims.shop.topics()),
        ("pay", sims.pay.topics()),
    ] {
        let req = http::Request::get(format!("http://{platform}.sim/openapi.json"))
            .body(bytes::Bytes::new())
            .unwrap();
        let resp = transport.send(req).await.expect("openapi.json answers");
        let doc: Value = serde_json::from_slice(resp.body()).expect("JSON");
        out.push((platform, doc, topics));
    }
    out
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "unresolved {r}");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// A small JSON Schema check: `$ref`, `allOf`, `oneOf`/`anyOf`, `type`
/// (one or several), `enum`, `required`, `properties` and `items`.
fn errors(doc: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let s = resolve(doc, schema);
    for sub in s["allOf"].as_array().into_iter().flatten() {
        errors(doc, sub, v, at, out);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s[key].as_array() {
            let fits = alts.iter().any(|alt| {
                let mut e = Vec::new();
                errors(doc, alt, v, at, &mut e);
                e.is_empty()
            });
            if !fits {
                out.push(format!("{at}: fits no branch of {key}"));
            }
        }
    }
    let types: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => true,
        });
        if !ok {
            out.push(format!("{at}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(allowed) = s["enum"].as_array()
        && !allowed.contains(v)
    {
        out.push(format!("{at}: {v} is not one of {allowed:?}"));
    }
    if let Some(obj) = v.as_object() {
        for r in s["required"].as_array().into_iter().flatten() {
            if let Some(k) = r.as_str()
                && !obj.contains_key(k)
            {
                out.push(format!("{at}: `{k}` is missing"));
            }
        }
        for (k, sub) in s["properties"].as_object().into_iter().flatten() {
            if let Some(x) = obj.get(k) {
                errors(doc, sub, x, &format!("{at}.{k}"), out);
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            errors(doc, items, x, &format!("{at}[{i}]"), out);
        }
    }
}

#[tokio::test]
async fn each_topic_has_a_typed_envelope_and_a_webhook_entry() {
    for (platform, doc, topics) in documents().await {
        let event = &doc["components"]["schemas"]["Event"];
        let mapping = &event["discriminator"]["mapping"];
        for topic in topics {
            let r = mapping[*topic]
                .as_str()
                .unwrap_or_else(|| panic!("{platform}: `{topic}` is not in Event's oneOf"));
            let name = r.trim_start_matches("#/components/schemas/");
            let env = &doc["components"]["schemas"][name];
            let data = resolve(&doc, &env["properties"]["data"]);
            let described = data["properties"].is_object()
                || data["allOf"].is_array()
                || data["oneOf"].is_array();
            assert!(
                described,
                "{platform} `{topic}`: data is a bare object: {data}"
            );
            assert_eq!(
                env["properties"]["actor"]["$ref"], "#/components/schemas/Actor",
                "{platform} `{topic}`"
            );
            let hook = &doc["webhooks"][*topic]["post"]["requestBody"]["content"]["application/json"]
                ["schema"]["$ref"];
            assert_eq!(hook.as_str(), Some(r), "{platform} `{topic}` webhook");
        }
        // The feed's page is typed through `Event`.
        assert_eq!(
            doc["components"]["schemas"]["EventPage"]["properties"]["events"]["items"]["$ref"],
            "#/components/schemas/Event"
        );
        let kinds = &doc["components"]["schemas"]["ActorKind"]["enum"];
        for k in ["connector", "actor", "platform", "system"] {
            assert!(
                kinds
                    .as_array()
                    .is_some_and(|a| a.contains(&Value::from(k))),
                "{platform}: ActorKind lacks {k}: {kinds}"
            );
        }
    }
}

#[test]
fn every_event_of_the_shipped_scenarios_fits_its_schema() {
    let docs = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(documents());
    let files = [
        "scenarios/returns/store-return-of-online-order.toml",
        "scenarios/returns/discount-code-return-pro-rata.toml",
        "scenarios/orders/pickup-and-no-show.toml",
        "scenarios/orders/cancel-after-authorization.toml",
        "scenarios/orders/partial-capture.toml",
        "scenarios/payments/bank-transfer-fails.toml",
        "scenarios/payments/split-tender-partial-refund.toml",
        "scenarios/payments/authorization-expires.toml",
        "scenarios/catalog/price-changed-at-the-register.toml",
        "scenarios/inventory/count-during-sync.toml",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut problems = Vec::new();
    for f in files {
        let loaded = validate::load(&root.join(f)).expect("the scenario loads");
        let judged = suite::run_one(&loaded, None);
        for line in judged.history_jsonl.lines() {
            let e: Value = serde_json::from_str(line).unwrap();
            if e["entry"] != "event" {
                continue;
            }
            let platform = e["platform"].as_str().unwrap_or_default();
            let (_, doc, _) = docs.iter().find(|(p, _, _)| *p == platform).unwrap();
            let mut errs = Vec::new();
            errors(
                doc,
                &doc["components"]["schemas"]["Event"],
                &e["event"],
                "event",
                &mut errs,
            );
            let kind = e["event"]["type"].as_str().unwrap_or_default().to_owned();
            if !errs.is_empty() {
                // Say which branch: the envelope of its own type.
                let name = doc["components"]["schemas"]["Event"]["discriminator"]["mapping"]
                    [kind.as_str()]
                .clone();
                let mut own = Vec::new();
                errors(
                    doc,
                    &serde_json::json!({"$ref": name}),
                    &e["event"],
                    "event",
                    &mut own,
                );
                problems.push(format!("{f}: {platform} {kind}: {own:?}"));
            }
            // The check has teeth: the same event without its data's
            // required fields does not fit.
            if seen.insert((platform.to_owned(), kind.clone())) {
                let mut broken = e["event"].clone();
                broken["data"] = serde_json::json!({});
                let mut errs = Vec::new();
                errors(
                    doc,
                    &doc["components"]["schemas"]["Event"],
                    &broken,
                    "event",
                    &mut errs,
                );
                assert!(!errs.is_empty(), "{platform} {kind}: an empty `data` fits");
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The run covered most of each platform's types.
    for platform in ["pos", "shop", "pay"] {
        let n = seen.iter().filter(|(p, _)| p == platform).count();
        assert!(n >= 4, "only {n} {platform} event types seen: {seen:?}");
    }
}
