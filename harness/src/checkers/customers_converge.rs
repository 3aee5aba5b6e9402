//! `customers_converge`: each person has one customer profile on the shop
//! and one on the POS after the settle window, and the two agree on name,
//! email, phone and marketing consent, as the person last gave them.
//!
//! The people and what they said come from the scripted steps alone (the
//! `signup`, `consent` and `profile` operations that completed), never from
//! the connector: two signups are one person when they share an email
//! (trimmed, any case) or a phone (its digits). Each field's expected value
//! is the latest scripted one; a field nobody gave is expected empty, and a
//! `signup` always states consent (no, unless it says yes). The profiles
//! judged are the platforms' own, read at the end.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use omnisim_api::customer::{normalize_email, normalize_phone};
use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, clock, verdict};
use crate::history::{Entry, OpType};

/// One scripted change to a field, and where it is in the history.
#[derive(Clone, Debug)]
struct Said<T> {
    value: T,
    index: u64,
    time: DateTime<Utc>,
    side: String,
    /// What the field may still hold instead, when the steps since the last
    /// one that surely took effect went unanswered (a timed-out `consent`
    /// may or may not have been applied): `None` is "never given".
    also: Vec<Option<T>>,
}

impl<T: Clone + PartialEq> Said<T> {
    /// Every value the field may rightly hold.
    fn accepted(&self) -> Vec<Option<T>> {
        let mut all = vec![Some(self.value.clone())];
        for a in &self.also {
            if !all.contains(a) {
                all.push(a.clone());
            }
        }
        all
    }
}

/// One person, as the script knows them.
#[derive(Clone, Debug, Default)]
struct Person {
    emails: Vec<String>,
    phones: Vec<String>,
    name: Option<Said<String>>,
    email: Option<Said<String>>,
    phone: Option<Said<String>>,
    consent: Option<Said<bool>>,
    /// The history entries of the person's completed steps.
    ops: Vec<(u64, DateTime<Utc>, String)>,
    /// Some step of theirs surely took effect (was answered): without one,
    /// the person may have no profile anywhere.
    sure: bool,
}

impl Person {
    fn who(&self) -> String {
        let name = self
            .name
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_default();
        let contact = self
            .email
            .as_ref()
            .or(self.phone.as_ref())
            .map(|s| s.value.clone())
            .unwrap_or_default();
        if name.is_empty() {
            contact
        } else {
            format!("{name} ({contact})")
        }
    }

    fn contact(&self) -> String {
        self.email
            .as_ref()
            .or(self.phone.as_ref())
            .map(|s| s.value.clone())
            .unwrap_or_default()
    }

    fn owns(&self, profile: &serde_json::Value) -> bool {
        let email = profile["email"].as_str().map(normalize_email);
        let phone = profile["phone"].as_str().map(normalize_phone);
        email.is_some_and(|e| self.emails.contains(&e))
            || phone.is_some_and(|p| self.phones.contains(&p))
    }
}

/// A text field to compare: its label, its key in a profile, the expected
/// value (normalized), the others it may hold instead, where it was given,
/// and how to normalize.
type TextField = (
    &'static str,
    &'static str,
    Option<String>,
    Vec<Option<String>>,
    Option<(u64, DateTime<Utc>, String)>,
    fn(&str) -> String,
);

/// Records a value given by a step; `unsure` when the step went unanswered,
/// so the value before it may still hold.
fn set<T: Clone>(
    slot: &mut Option<Said<T>>,
    value: T,
    (index, time, side): (u64, DateTime<Utc>, &str),
    unsure: bool,
) {
    let also = if unsure {
        match slot.take() {
            Some(before) => {
                let mut also = before.also;
                also.push(Some(before.value));
                also
            }
            None => vec![None],
        }
    } else {
        Vec::new()
    };
    *slot = Some(Said {
        value,
        index,
        time,
        side: side.to_owned(),
        also,
    });
}

fn platform_name(side: &str) -> &'static str {
    if side == "pos" { "the POS" } else { "the shop" }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The people of the script, from its completed customer steps in order.
fn people(input: &Input<'_>) -> Vec<Person> {
    let mut invoked: BTreeMap<usize, &serde_json::Value> = BTreeMap::new();
    let mut out: Vec<Person> = Vec::new();
    for e in input.history {
        let Entry::Op {
            index,
            time,
            step,
            process,
            kind,
            f,
            value,
        } = e
        else {
            continue;
        };
        if !matches!(f.as_str(), "signup" | "consent" | "profile") {
            continue;
        }
        let side = if process.starts_with("pos") {
            "pos"
        } else {
            "shop"
        };
        if !process.starts_with("pos") && !process.starts_with("shop") {
            continue;
        }
        match kind {
            OpType::Invoke => {
                invoked.insert(*step, value);
                continue;
            }
            OpType::Ok => {}
            // No answer: the step may or may not have been applied (for a
            // signup: the profile may not exist).
            OpType::Info => {}
            _ => continue,
        }
        let unsure = *kind == OpType::Info;
        let at = (*index, *time, side);
        let Some(asked) = invoked.get(step) else {
            continue;
        };
        let email = asked["email"].as_str().map(str::to_owned);
        let phone = asked["phone"].as_str().map(str::to_owned);
        let name = asked["customer"].as_str().map(str::to_owned);
        let consent = asked["accepts_marketing"].as_bool();
        let n_email = email.as_deref().map(normalize_email);
        let n_phone = phone.as_deref().map(normalize_phone);
        // Who this is: every person sharing the email or (for a signup or a
        // consent found by phone) the phone; several are one person.
        let by_phone = f != "profile" || n_email.is_none();
        let matches: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                n_email.as_ref().is_some_and(|e| p.emails.contains(e))
                    || (by_phone && n_phone.as_ref().is_some_and(|ph| p.phones.contains(ph)))
            })
            .map(|(i, _)| i)
            .collect();
        let mut person = Person::default();
        for i in matches.iter().rev() {
            let other = out.remove(*i);
            // Merge, keeping the latest of each field.
            person.emails.extend(other.emails);
            person.phones.extend(other.phones);
            person.ops.extend(other.ops);
            person.sure |= other.sure;
            for (mine, theirs) in [
                (&mut person.name, other.name),
                (&mut person.email, other.email),
                (&mut person.phone, other.phone),
            ] {
                if theirs.as_ref().map(|t| t.index) > mine.as_ref().map(|m| m.index) {
                    *mine = theirs;
                }
            }
            if other.consent.as_ref().map(|t| t.index) > person.consent.as_ref().map(|m| m.index) {
                person.consent = other.consent;
            }
        }
        if f == "signup" || f == "profile" {
            if let Some(n) = name.filter(|n| !n.trim().is_empty()) {
                set(&mut person.name, n.trim().to_owned(), at, unsure);
            }
            if let Some(p) = phone {
                set(&mut person.phone, p, at, unsure);
            }
        }
        if f == "signup"
            && let Some(e) = email
        {
            set(&mut person.email, e, at, unsure);
        }
        if f == "signup" {
            set(&mut person.consent, consent.unwrap_or(false), at, unsure);
        } else if let Some(c) = consent {
            set(&mut person.consent, c, at, unsure);
        }
        person.emails.extend(n_email);
        person.phones.extend(n_phone);
        person.emails.sort();
        person.emails.dedup();
        person.phones.sort();
        person.phones.dedup();
        person.ops.push((*index, *time, format!("{side} {f}")));
        person.sure |= !unsure;
        out.push(person);
    }
    out
}

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    let persons = people(input);
    let end = |what: String| Witness {
        index: input.history.len() as u64,
        time: input.ended,
        what,
    };
    let op_witnesses = |p: &Person| -> Vec<Witness> {
        p.ops
            .iter()
            .map(|(index, time, what)| Witness {
                index: *index,
                time: *time,
                what: format!("{what} of {} at {}", p.contact(), clock(*time)),
            })
            .collect()
    };
    let sides: [(&str, &Vec<serde_json::Value>); 2] = [
        ("shop", &input.state.shop_customers),
        ("pos", &input.state.pos_customers),
    ];
    let mut profiles_checked = 0;
    for p in &persons {
        // Only unanswered steps, and no profile anywhere: none was made.
        if !p.sure && sides.iter().all(|(_, all)| !all.iter().any(|c| p.owns(c))) {
            continue;
        }
        let mut theirs: BTreeMap<&str, &serde_json::Value> = BTreeMap::new();
        for (side, all) in sides {
            let owned: Vec<&serde_json::Value> = all.iter().filter(|c| p.owns(c)).collect();
            profiles_checked += owned.len();
            match owned.as_slice() {
                [one] => {
                    theirs.insert(side, one);
                }
                [] => {
                    let mut witnesses = op_witnesses(p);
                    witnesses.push(end(format!("the customers on {}", platform_name(side))));
                    violations.push(Violation {
                        message: format!("{} has no profile on {}", p.who(), platform_name(side)),
                        sku: None,
                        units: None,
                        witnesses,
                    });
                }
                many => {
                    let ids: Vec<&str> = many.iter().filter_map(|c| c["id"].as_str()).collect();
                    let mut witnesses = op_witnesses(p);
                    for id in &ids {
                        witnesses.push(end(format!("profile {id} on {}", platform_name(side))));
                    }
                    violations.push(Violation {
                        message: format!(
                            "{} has {} profiles on {} ({})",
                            p.who(),
                            many.len(),
                            platform_name(side),
                            ids.join(", ")
                        ),
                        sku: None,
                        units: None,
                        witnesses,
                    });
                }
            }
        }
        // Each field, on each side that has exactly one profile.
        let text = |c: &serde_json::Value, field: &str| c[field].as_str().map(str::to_owned);
        let fields: [TextField; 3] = [
            (
                "name",
                "name",
                p.name.as_ref().map(|s| s.value.clone()),
                p.name
                    .as_ref()
                    .map(|s| {
                        s.also
                            .iter()
                            .map(|a| a.as_deref().map(|v| v.trim().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default(),
                p.name.as_ref().map(|s| (s.index, s.time, s.side.clone())),
                |v| v.trim().to_owned(),
            ),
            (
                "email",
                "email",
                p.email.as_ref().map(|s| normalize_email(&s.value)),
                p.email
                    .as_ref()
                    .map(|s| {
                        s.also
                            .iter()
                            .map(|a| a.as_deref().map(normalize_email))
                            .collect()
                    })
                    .unwrap_or_default(),
                p.email.as_ref().map(|s| (s.index, s.time, s.side.clone())),
                normalize_email,
            ),
            (
                "phone",
                "phone",
                p.phone.as_ref().map(|s| normalize_phone(&s.value)),
                p.phone
                    .as_ref()
                    .map(|s| {
                        s.also
                            .iter()
                            .map(|a| a.as_deref().map(normalize_phone))
                            .collect()
                    })
                    .unwrap_or_default(),
                p.phone.as_ref().map(|s| (s.index, s.time, s.side.clone())),
                normalize_phone,
            ),
        ];
        for (label, field, want, also, said, norm) in fields {
            let got: Vec<(&str, Option<String>)> = theirs
                .iter()
                .map(|(side, c)| {
                    (
                        *side,
                        text(c, field).map(|v| norm(&v)).filter(|v| !v.is_empty()),
                    )
                })
                .collect();
            let want = want.filter(|v| !v.is_empty());
            let accepted: Vec<Option<String>> = std::iter::once(want.clone())
                .chain(also.into_iter().map(|a| a.filter(|v| !v.is_empty())))
                .collect();
            if accepted.iter().any(|a| got.iter().all(|(_, g)| g == a)) {
                continue;
            }
            let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
            let states: Vec<String> = got
                .iter()
                .map(|(side, g)| format!("{} on {}", shown(g), platform_name(side)))
                .collect();
            let mut witnesses = op_witnesses(p);
            let latest = match &said {
                Some((index, time, side)) => {
                    witnesses.push(Witness {
                        index: *index,
                        time: *time,
                        what: format!("the latest {label} given, on {}", platform_name(side)),
                    });
                    format!(
                        "; the latest given ({} on {}) is {}",
                        clock(*time),
                        platform_name(side),
                        shown(&want)
                    )
                }
                None => "; none was ever given".into(),
            };
            witnesses.push(end(format!("the profiles of {}", p.contact())));
            violations.push(Violation {
                message: format!(
                    "{label} for {} is {}{latest}",
                    p.contact(),
                    states.join(", ")
                ),
                sku: None,
                units: None,
                witnesses,
            });
        }
        if let Some(said) = &p.consent {
            let got: Vec<(&str, Option<bool>)> = theirs
                .iter()
                .map(|(side, c)| (*side, c["accepts_marketing"].as_bool()))
                .collect();
            let accepted = said.accepted();
            if !accepted.iter().any(|a| got.iter().all(|(_, g)| g == a)) {
                let states: Vec<String> = got
                    .iter()
                    .map(|(side, g)| {
                        format!("{} on {}", g.map_or("unknown", yes_no), platform_name(side))
                    })
                    .collect();
                let mut witnesses = op_witnesses(p);
                witnesses.push(Witness {
                    index: said.index,
                    time: said.time,
                    what: format!(
                        "marketing consent set to {} on {}",
                        yes_no(said.value),
                        platform_name(&said.side)
                    ),
                });
                witnesses.push(end(format!("the profiles of {}", p.contact())));
                violations.push(Violation {
                    message: format!(
                        "marketing consent for {} is {}; the customer's latest choice ({} on {}) was {}",
                        p.contact(),
                        states.join(", "),
                        clock(said.time),
                        platform_name(&said.side),
                        yes_no(said.value)
                    ),
                    sku: None,
                    units: None,
                    witnesses,
                });
            }
        }
    }
    verdict(
        "customers_converge",
        violations,
        serde_json::json!({ "people": persons.len(), "profiles_checked": profiles_checked }),
    )
}
