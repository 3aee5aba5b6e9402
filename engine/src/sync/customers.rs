//! Customer profiles between the shop and the POS, both ways.
//!
//! A profile made or changed on one side (not by the engine itself: its own
//! writes come back with the connector as `actor` and are skipped) is
//! looked up on the other side:
//!
//! 1. through the link the engine stored when it first joined the two;
//! 2. else by email, trimmed and case-insensitive, among the other side's
//!    profiles not yet linked;
//! 3. else by phone, on its digits (`+44 20 7946 0000` is `+442079460000`);
//! 4. else it is created there, and linked; unless the match is a profile
//!    already linked to another one on this side: then this one is a
//!    duplicate here, reported (`duplicate_customer`) and not copied over.
//!
//! Two linked profiles are merged field by field (name, email, phone,
//! marketing consent) against what the engine last left on both (the
//! link's base): a field changed on one side only takes that side's value;
//! a field changed on both, or two profiles just matched with no base,
//! takes the value of the profile changed last (its platform's
//! `updated_at`), except that an empty value never wins over a filled one
//! when there is no base. Emails and phones that differ only in case or
//! spacing are equal and left as they are.

use omnisim_api::Event;
use omnisim_api::customer::{
    CreateCustomer, Customer, CustomerClient, CustomerFilter, UpdateCustomer, normalize_email,
    normalize_phone,
};

use super::{Outcome, parse, settle};
use crate::defect::Defect;
use crate::engine::Engine;
use crate::state::{CustomerFields, CustomerLink, Plat};

fn fields(c: &Customer) -> CustomerFields {
    CustomerFields {
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        accepts_marketing: c.accepts_marketing,
    }
}

fn same_email(a: &Option<String>, b: &Option<String>) -> bool {
    a.as_deref().map(normalize_email) == b.as_deref().map(normalize_email)
}

fn same_phone(a: &Option<String>, b: &Option<String>) -> bool {
    a.as_deref().map(normalize_phone) == b.as_deref().map(normalize_phone)
}

/// Which of two values of one field wins: `a` (from the side that changed
/// last, when `a_newer`) or `b`.
fn pick<T: Clone>(
    a: &T,
    b: &T,
    base: Option<&T>,
    a_newer: bool,
    same: impl Fn(&T, &T) -> bool,
    empty: impl Fn(&T) -> bool,
) -> T {
    if same(a, b) {
        return a.clone();
    }
    match base {
        Some(base) if same(a, base) => b.clone(),
        Some(base) if same(b, base) => a.clone(),
        Some(_) => {
            if a_newer {
                a.clone()
            } else {
                b.clone()
            }
        }
        None if empty(a) => b.clone(),
        None if empty(b) => a.clone(),
        None => {
            if a_newer {
                a.clone()
            } else {
                b.clone()
            }
        }
    }
}

/// The merged fields of `a` and `b` against `base`.
fn merge(
    a: &Customer,
    b: &Customer,
    base: Option<&CustomerFields>,
    consent_synced: bool,
) -> (CustomerFields, CustomerFields) {
    let a_newer = a.updated_at >= b.updated_at;
    let name = pick(
        &a.name,
        &b.name,
        base.map(|f| &f.name),
        a_newer,
        |x, y| x == y,
        |x| x.trim().is_empty(),
    );
    let email = pick(
        &a.email,
        &b.email,
        base.map(|f| &f.email),
        a_newer,
        same_email,
        Option::is_none,
    );
    let phone = pick(
        &a.phone,
        &b.phone,
        base.map(|f| &f.phone),
        a_newer,
        same_phone,
        Option::is_none,
    );
    let consent = pick(
        &a.accepts_marketing,
        &b.accepts_marketing,
        base.map(|f| &f.accepts_marketing),
        a_newer,
        |x, y| x == y,
        |_| false,
    );
    let merged = CustomerFields {
        name,
        email,
        phone,
        accepts_marketing: consent,
    };
    if consent_synced {
        (merged.clone(), merged)
    } else {
        // The defect: each side keeps its own consent.
        let mut for_a = merged.clone();
        for_a.accepts_marketing = a.accepts_marketing;
        let mut for_b = merged;
        for_b.accepts_marketing = b.accepts_marketing;
        (for_a, for_b)
    }
}

/// What to write to `c` to make it hold `want`.
fn write_for(c: &Customer, want: &CustomerFields) -> UpdateCustomer {
    UpdateCustomer {
        name: (c.name != want.name).then(|| want.name.clone()),
        email: (!same_email(&c.email, &want.email)).then(|| want.email.clone().unwrap_or_default()),
        phone: (!same_phone(&c.phone, &want.phone)).then(|| want.phone.clone().unwrap_or_default()),
        accepts_marketing: (c.accepts_marketing != want.accepts_marketing)
            .then_some(want.accepts_marketing),
    }
}

fn other(p: Plat) -> Plat {
    if p == Plat::Shop {
        Plat::Pos
    } else {
        Plat::Shop
    }
}

fn link_of(p: Plat, here: &str, there: &str) -> CustomerLink {
    let (shop, pos) = if p == Plat::Shop {
        (here, there)
    } else {
        (there, here)
    };
    CustomerLink {
        shop: shop.to_owned(),
        pos: pos.to_owned(),
        base: None,
    }
}

/// A profile event on `p` (the shop or the POS).
pub(super) async fn changed(engine: &Engine, p: Plat, event: &Event) -> Outcome {
    if event.actor.is_connector() {
        return Ok(());
    }
    let Some(copy) = parse::<Customer>(engine, event) else {
        return Ok(());
    };
    let here_api = CustomerClient(engine.client(p));
    let there_p = other(p);
    let there_api = CustomerClient(engine.client(there_p));
    let everyone = CustomerFilter::default();
    // The profile as it is now: webhooks come late and out of order.
    let Some(here) = settle(
        engine,
        event,
        "reading the customer",
        engine.call(|| here_api.get(&copy.id)).await,
    )?
    else {
        return Ok(());
    };
    let mut link = engine.with_state(|s| s.customer_link(p, &here.id));
    let mut there: Option<Customer> = None;
    if let Some(l) = &link {
        let there_id = if p == Plat::Shop { &l.pos } else { &l.shop };
        match engine.call(|| there_api.get(there_id)).await {
            Ok(c) => there = Some(c),
            Err(e) if e.status() == Some(404) => link = None,
            r => {
                settle(engine, event, "reading the linked customer", r)?;
                return Ok(());
            }
        }
    }
    if there.is_none() {
        let Some(all) = settle(
            engine,
            event,
            "listing the other side's customers",
            engine.call(|| there_api.list(&everyone)).await,
        )?
        else {
            return Ok(());
        };
        // Unlinked profiles first: a person already linked to another
        // profile here is a duplicate on this side, not someone to copy.
        let (unlinked, linked): (Vec<&Customer>, Vec<&Customer>) = engine.with_state(|s| {
            all.data
                .iter()
                .partition(|c| s.customer_link(there_p, &c.id).is_none())
        });
        let same_person = |c: &Customer| -> bool {
            let email = match (&here.email, &c.email) {
                (Some(e), Some(ce)) if engine.has(Defect::CustomerEmailCase) => ce == e,
                (Some(e), Some(ce)) => normalize_email(ce) == normalize_email(e),
                _ => false,
            };
            let phone = match (&here.phone, &c.phone) {
                (Some(p), Some(cp)) => normalize_phone(cp) == normalize_phone(p),
                _ => false,
            };
            email || phone
        };
        let by_email = here.email.as_ref().and_then(|e| {
            unlinked.iter().find(|c| {
                c.email.as_ref().is_some_and(|ce| {
                    if engine.has(Defect::CustomerEmailCase) {
                        ce == e
                    } else {
                        normalize_email(ce) == normalize_email(e)
                    }
                })
            })
        });
        let by_phone = || {
            here.phone.as_ref().and_then(|ph| {
                unlinked.iter().find(|c| {
                    c.phone
                        .as_ref()
                        .is_some_and(|cp| normalize_phone(cp) == normalize_phone(ph))
                })
            })
        };
        if by_email.is_none()
            && by_phone().is_none()
            && let Some(twin) = linked.iter().find(|c| same_person(c))
        {
            engine.report(
                "duplicate_customer",
                format!(
                    "customer {} on the {} is a second profile of the person whose {} profile {} is already linked to another; merge the two on the {}",
                    here.id,
                    p.name(),
                    there_p.name(),
                    twin.id,
                    p.name()
                ),
                Some(&event.id),
            );
            return Ok(());
        }
        match by_email.or_else(by_phone) {
            Some(found) => {
                let found = (*found).clone();
                link = Some(link_of(p, &here.id, &found.id));
                there = Some(found);
            }
            None => {
                let body = CreateCustomer {
                    name: here.name.clone(),
                    email: here.email.clone(),
                    phone: here.phone.clone(),
                    accepts_marketing: here.accepts_marketing,
                };
                let key = engine.key(format!("customer-{}", event.id));
                let Some(made) = settle(
                    engine,
                    event,
                    "creating the customer on the other side",
                    engine.call(|| there_api.create(&body, Some(&key))).await,
                )?
                else {
                    return Ok(());
                };
                let mut l = link_of(p, &here.id, &made.id);
                l.base = Some(fields(&made));
                engine.with_state(|s| s.save_customer(l));
                return Ok(());
            }
        }
    }
    let (Some(mut link), Some(there)) = (link, there) else {
        return Ok(());
    };
    let consent_synced = !engine.has(Defect::ConsentNotSynced);
    let (for_here, for_there) = merge(&here, &there, link.base.as_ref(), consent_synced);
    let to_here = write_for(&here, &for_here);
    let to_there = write_for(&there, &for_there);
    if !to_there.is_empty() {
        settle(
            engine,
            event,
            "merging the customer on the other side",
            engine.call(|| there_api.update(&there.id, &to_there)).await,
        )?;
    }
    if !to_here.is_empty() {
        settle(
            engine,
            event,
            "merging the customer where it changed",
            engine.call(|| here_api.update(&here.id, &to_here)).await,
        )?;
    }
    link.base = Some(for_here);
    engine.with_state(|s| s.save_customer(link));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, Utc};

    fn profile(id: &str, name: &str, email: Option<&str>, consent: bool, at_s: i64) -> Customer {
        let at = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(at_s);
        Customer {
            id: id.into(),
            name: name.into(),
            email: email.map(Into::into),
            phone: None,
            accepts_marketing: consent,
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    #[test]
    fn a_first_merge_fills_gaps_and_the_newer_profile_wins_the_rest() {
        let online = profile("cus_1", "Ada Lovelace", Some("ada@example.com"), true, 10);
        let mut store = profile("cust_1", "Ada L.", None, false, 40);
        store.phone = Some("+442079460000".into());
        let (merged, _) = merge(&online, &store, None, true);
        assert_eq!(merged.name, "Ada L.", "the register's is newer");
        assert_eq!(merged.email.as_deref(), Some("ada@example.com"), "filled");
        assert_eq!(merged.phone.as_deref(), Some("+442079460000"), "filled");
        assert!(!merged.accepts_marketing);
    }

    #[test]
    fn a_field_changed_on_one_side_only_takes_that_side() {
        let base = CustomerFields {
            name: "Ada".into(),
            email: Some("ada@example.com".into()),
            phone: None,
            accepts_marketing: true,
        };
        // The shop renamed her (later); the register withdrew consent.
        let online = profile("cus_1", "Ada Lovelace", Some("ada@example.com"), true, 50);
        let store = profile("cust_1", "Ada", Some("ADA@example.com"), false, 40);
        let (merged, _) = merge(&online, &store, Some(&base), true);
        assert_eq!(merged.name, "Ada Lovelace");
        assert!(!merged.accepts_marketing, "the register's change survives");
        assert!(write_for(&store, &merged).email.is_none(), "same email");
    }
}
