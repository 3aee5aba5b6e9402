//! Calls every simulator answers alike: change feed, webhook subscriptions,
//! locations.

use crate::client::ApiClient;
use crate::common::{
    CreateLocation, CreateWebhookSubscription, Location, LocationList, RotateSecret,
    WebhookSubscription, WebhookSubscriptionList,
};
use crate::error::ApiError;
use crate::event::EventPage;

impl ApiClient {
    /// `GET /v1/events?after=<cursor>&limit=<n>`; `after = None` reads from the start.
    pub async fn events(&self, after: Option<&str>, limit: u32) -> Result<EventPage, ApiError> {
        let path = match after {
            Some(cursor) => format!("/v1/events?after={cursor}&limit={limit}"),
            None => format!("/v1/events?limit={limit}"),
        };
        self.get(&path).await
    }

    /// `POST /v1/webhook_subscriptions`: the answer carries the signing secret.
    pub async fn subscribe(
        &self,
        body: &CreateWebhookSubscription,
        key: Option<&str>,
    ) -> Result<WebhookSubscription, ApiError> {
        self.post("/v1/webhook_subscriptions", body, key).await
    }

    /// `GET /v1/webhook_subscriptions` (no secrets).
    pub async fn subscriptions(&self) -> Result<WebhookSubscriptionList, ApiError> {
        self.get("/v1/webhook_subscriptions").await
    }

    /// `POST /v1/webhook_subscriptions/{id}/rotate_secret`.
    pub async fn rotate_secret(
        &self,
        id: &str,
        body: &RotateSecret,
    ) -> Result<WebhookSubscription, ApiError> {
        self.post(
            &format!("/v1/webhook_subscriptions/{id}/rotate_secret"),
            body,
            None,
        )
        .await
    }

    /// `POST /v1/locations`.
    pub async fn create_location(
        &self,
        body: &CreateLocation,
        key: Option<&str>,
    ) -> Result<Location, ApiError> {
        self.post("/v1/locations", body, key).await
    }

    /// `GET /v1/locations`.
    pub async fn locations(&self) -> Result<LocationList, ApiError> {
        self.get("/v1/locations").await
    }
}
