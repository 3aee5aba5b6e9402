//! Automatic promotions, from the shop (their master) to the POS.
//!
//! A promotion made or changed on the shop (not by the engine: its own
//! writes come back with the connector as `actor` and are skipped) is read
//! as it is now (webhooks come late and out of order) and found on the POS
//! by its `external_ref`, the shop's promotion id, which the engine writes
//! when it first copies it there: no link to store, and a retried copy is
//! never a second promotion (the POS refuses a second `external_ref` with
//! 409 `promotion_exists`, and the create carries an idempotency key derived
//! from the event). Found, every field that differs is written (title,
//! value, SKUs, start, end, status): an end moved earlier online ends it in
//! the store too. A promotion made at the register stays there: the shop
//! is the master, and nothing travels back.

use omnisim_api::Event;
use omnisim_api::promotion::{CreatePromotion, Promotion, PromotionClient, UpdatePromotion};

use super::{Outcome, parse, settle};
use crate::defect::Defect;
use crate::engine::Engine;
use crate::state::Plat;

/// What to write to the POS copy `there` to make it hold the shop's `here`.
fn write_for(here: &Promotion, there: &Promotion, end_synced: bool) -> UpdatePromotion {
    UpdatePromotion {
        title: (there.title != here.title).then(|| here.title.clone()),
        value: (there.value != here.value).then_some(here.value),
        skus: (there.skus != here.skus).then(|| here.skus.clone()),
        starts_at: (there.starts_at != here.starts_at).then_some(here.starts_at),
        ends_at: if end_synced && there.ends_at != here.ends_at {
            here.ends_at
        } else {
            None
        },
        status: (there.status != here.status).then_some(here.status),
    }
}

/// A shop `promotions/create` or `promotions/update`.
pub(super) async fn changed(engine: &Engine, event: &Event) -> Outcome {
    if event.actor.is_connector() {
        return Ok(());
    }
    let Some(copy) = parse::<Promotion>(engine, event) else {
        return Ok(());
    };
    let shop = PromotionClient(engine.client(Plat::Shop));
    let pos = PromotionClient(engine.client(Plat::Pos));
    let Some(here) = settle(
        engine,
        event,
        "reading the promotion",
        engine.call(|| shop.get(&copy.id)).await,
    )?
    else {
        return Ok(());
    };
    let Some(found) = settle(
        engine,
        event,
        "finding the promotion on the POS",
        engine.call(|| pos.list(Some(&here.id))).await,
    )?
    else {
        return Ok(());
    };
    let Some(there) = found.data.into_iter().next() else {
        let body = CreatePromotion {
            title: here.title.clone(),
            kind: here.kind,
            value: here.value,
            currency: here.currency.clone(),
            skus: here.skus.clone(),
            starts_at: Some(here.starts_at),
            ends_at: here.ends_at,
            status: here.status,
            external_ref: Some(here.id.clone()),
        };
        let key = engine.key(format!("promotion-{}", event.id));
        settle(
            engine,
            event,
            "copying the promotion to the POS",
            engine.call(|| pos.create(&body, Some(&key))).await,
        )?;
        return Ok(());
    };
    // The defect: an edit of the end of a promotion already in the store
    // never reaches it.
    let end_synced = !engine.has(Defect::PromotionEndNotSynced);
    let body = write_for(&here, &there, end_synced);
    if !body.is_empty() {
        settle(
            engine,
            event,
            "updating the promotion on the POS",
            engine.call(|| pos.update(&there.id, &body)).await,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, Utc};
    use omnisim_api::promotion::PromotionStatus;
    use omnisim_api::shop::DiscountKind;
    use rust_decimal::Decimal;

    fn promo(id: &str, ends_h: i64) -> Promotion {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        Promotion {
            id: id.into(),
            title: "SPRING-20".into(),
            kind: DiscountKind::Percentage,
            value: Decimal::from(20),
            currency: None,
            skus: vec!["SCARF".into()],
            starts_at: t,
            ends_at: Some(t + TimeDelta::hours(ends_h)),
            status: PromotionStatus::Active,
            external_ref: None,
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    #[test]
    fn only_the_fields_that_differ_are_written_and_the_defect_drops_the_end() {
        let online = promo("promo_000001", 6);
        let mut store = promo("prm_000001", 9);
        store.external_ref = Some(online.id.clone());
        let w = write_for(&online, &store, true);
        assert_eq!(
            w,
            UpdatePromotion {
                ends_at: online.ends_at,
                ..Default::default()
            }
        );
        assert!(write_for(&online, &store, false).is_empty());
        store.ends_at = online.ends_at;
        assert!(write_for(&online, &store, true).is_empty());
    }
}
