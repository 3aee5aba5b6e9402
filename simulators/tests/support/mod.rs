//! Test support: the three simulators wired together in process, and a tiny
//! JSON client over their routers.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Request, StatusCode};
use omnisim_api::Clock;
use omnisim_simulators::inprocess::RouterTransport;
use omnisim_simulators::{Simulators, SimulatorsConfig};
use tower::ServiceExt;

pub const KEY: &str = "test_key";
pub const PAY_HOST: &str = "pay.sim";

/// The three simulators on one clock; shop and pos reach pay in process.
pub struct World {
    pub sims: Simulators,
    pub transport: RouterTransport,
    pub clock: Clock,
}

pub fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

impl World {
    pub fn new() -> Self {
        let clock = Clock::new(epoch());
        let transport = RouterTransport::new();
        let sims = Simulators::new(SimulatorsConfig {
            clock: clock.clone(),
            api_key: KEY.into(),
            seed: 42,
            transport: Arc::new(transport.clone()),
            pay_url: format!("http://{PAY_HOST}"),
            delay_scale: 1,
        });
        transport.mount(PAY_HOST, sims.pay_router());
        World {
            sims,
            transport,
            clock,
        }
    }

    pub fn pos(&self) -> App {
        App(self.sims.pos_router())
    }
    pub fn shop(&self) -> App {
        App(self.sims.shop_router())
    }
    pub fn pay(&self) -> App {
        App(self.sims.pay_router())
    }
}

/// One router and a JSON client for it.
#[derive(Clone)]
pub struct App(pub Router);

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: serde_json::Value,
    pub raw: bytes::Bytes,
}

impl App {
    pub async fn request(&self, req: Request<Body>) -> Reply {
        let resp = self.0.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            headers,
            json,
            raw,
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        idem: Option<&str>,
    ) -> Reply {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", "application/json");
        if let Some(k) = idem {
            b = b.header("idempotency-key", k);
        }
        self.request(b.body(Body::from(body.unwrap_or_default())).unwrap())
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, None).await
    }

    pub async fn get_unauthed(&self, path: &str) -> Reply {
        self.request(Request::builder().uri(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send("POST", path, Some(serde_json::to_vec(&body).unwrap()), None)
            .await
    }

    pub async fn post_idem(&self, path: &str, body: serde_json::Value, key: &str) -> Reply {
        self.send(
            "POST",
            path,
            Some(serde_json::to_vec(&body).unwrap()),
            Some(key),
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send(
            "PATCH",
            path,
            Some(serde_json::to_vec(&body).unwrap()),
            None,
        )
        .await
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send("PUT", path, Some(serde_json::to_vec(&body).unwrap()), None)
            .await
    }
}
