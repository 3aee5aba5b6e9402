//! Rendering a [`Plan`] into scenario TOML: the one format the runner, the
//! validator and `omnisim run` already understand.
//!
//! The renderer walks the plan with a small model of what exists (open
//! orders, unreturned sales), resolves each choice number against it, and
//! drops steps whose precondition does not hold. Names (customers, products)
//! come from the `fake` crate with an RNG seeded by the case seed, so the
//! same seed always reads the same.

use std::fmt::Write as _;

use fake::Fake;
use fake::faker::name::en::FirstName;
use fake::faker::name::en::LastName;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::plan::{Act, FaultKind, FaultProfile, Plan};

/// What a rendered case says about itself (the header of its file).
#[derive(Clone, Debug, Default)]
pub struct Header {
    /// The scenario's title.
    pub name: String,
    /// Comment lines put at the top of the file.
    pub comments: Vec<String>,
    /// The `[connector]` table's `engine = { … }` value, if not the default.
    pub engine: Option<String>,
    /// Service levels (`[sla]` stock and catalog), when not the defaults: a
    /// polling connector is held to what its interval allows.
    pub sla: Option<String>,
    /// How long the world settles after the last step, when not the default.
    pub settle: Option<String>,
    /// List only the SKUs some step names (shrinking's last pass).
    pub prune_skus: bool,
    /// The engine runs with deliberate defects: the file is tagged `defect`.
    pub defect: bool,
    /// Error codes expected of steps, by rendered step number (0-based).
    pub expect_errors: std::collections::BTreeMap<usize, String>,
}

const PRODUCTS: [&str; 12] = [
    "mug", "tee", "scarf", "cap", "tote", "candle", "notebook", "beanie", "socks", "apron",
    "bottle", "poster",
];

const TARGETS: [&str; 3] = ["pos", "shop", "pay"];

/// The day's people who may make customer profiles (first and last names).
const PEOPLE: [(&str, &str); 4] = [
    ("Ada", "Byron"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
];

struct Order {
    name: String,
    pickup: bool,
    location: String,
    open: bool,
    /// Its lines (SKU, units), in the order the checkout listed them.
    lines: Vec<(String, u8)>,
    /// Picked up or shipped: the customer has the goods.
    collected: bool,
    /// Brought back (in part or in full) or refunded.
    returned: bool,
    /// Paid by bank transfer: it settles or fails on its own, and nobody
    /// hands it over or cancels it meanwhile.
    transfer: bool,
    /// Paid with a gift card: the gateway's dashboard does not refund it.
    gift: bool,
}

impl Order {
    fn units(&self) -> u32 {
        self.lines.iter().map(|(_, q)| u32::from(*q)).sum()
    }
}

/// How far a quick step follows the step before it.
const QUICK_SECS: u64 = 2;

/// What a gift card sold at a register holds: enough for two of the largest
/// checkouts the generator makes (three units and one more at 99.99, with
/// tax), so a card is used at most twice.
const GIFT_CARD: &str = "1000.00";
const GIFT_CARD_USES: u8 = 2;

/// The shop's discount code every generated merchant offers.
const DISCOUNT: &str = "SAVE20";

/// The tax code of a taxed merchant's items, at the same rate on both
/// platforms.
const TAX_CODE: &str = "standard";

/// Bank accounts whose transfers settle, and fail, an hour later.
const TRANSFER_SETTLES: &str = "000123456789";
const TRANSFER_FAILS: &str = "000111111116";

struct Sale {
    name: String,
    store: String,
    sku: String,
    qty: u8,
    returned: bool,
}

/// One rendered step (for counting and for the model of the file).
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The scenario text.
    pub toml: String,
    /// How many steps it has.
    pub steps: usize,
    /// How many SKUs.
    pub skus: usize,
}

fn clock(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Cents as the scenario language writes money (`"12.05"`).
fn dollars(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn pick<T>(items: &[T], choice: u8) -> Option<&T> {
    if items.is_empty() {
        None
    } else {
        items.get(usize::from(choice) % items.len())
    }
}

/// Renders `plan` as a scenario file for `seed` under `profile`.
pub fn render(plan: &Plan, seed: u64, profile: FaultProfile, header: &Header) -> Rendered {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e61_6d65);
    let stores: Vec<String> = (1..=plan.stores.max(1))
        .map(|i| format!("store-{i}"))
        .collect();
    let mut fulfil_from: Vec<String> = stores.clone();
    if plan.warehouse {
        fulfil_from.push("warehouse".into());
    }
    let mut out = String::new();
    for c in &header.comments {
        let _ = writeln!(out, "# {c}");
    }
    if !header.comments.is_empty() {
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "name = {}", quote(&header.name));
    if header.defect {
        let _ = writeln!(out, "tags = [\"explore\", \"regression\", \"defect\"]");
    } else {
        let _ = writeln!(out, "tags = [\"explore\", \"regression\"]");
    }
    let _ = writeln!(out, "seed = {seed}");
    // The settle line goes here once the steps are known (a bank transfer
    // still settling may need a longer one).
    let settle_at = out.len();
    if let Some(sla) = &header.sla {
        let _ = writeln!(out, "sla = {{ stock = \"{sla}\", catalog = \"{sla}\" }}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "[merchant]");
    if plan.taxed {
        let _ = writeln!(
            out,
            "pos = {{ sell_when_out_of_stock = \"block\", tax_rates = {{ {TAX_CODE} = \"0.08\" }} }}"
        );
        let _ = writeln!(out, "shop = {{ tax_rates = {{ {TAX_CODE} = \"0.08\" }} }}");
    } else {
        let _ = writeln!(out, "pos = {{ sell_when_out_of_stock = \"block\" }}");
    }
    if plan.pos_masters_price {
        let _ = writeln!(out, "catalog_master = {{ price = \"pos\" }}");
    }
    let _ = writeln!(
        out,
        "discounts = [{{ code = \"{DISCOUNT}\", kind = \"percentage\", value = \"20\" }}]"
    );
    let _ = writeln!(out, "locations = [");
    for (i, s) in stores.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {{ id = \"{s}\", name = \"Store {}\", kind = \"store\" }},",
            i + 1
        );
    }
    if plan.warehouse {
        let _ = writeln!(
            out,
            "  {{ id = \"warehouse\", name = \"Warehouse\", kind = \"warehouse\" }},"
        );
    }
    let _ = writeln!(out, "]");
    let mut skus = Vec::new();
    // The SKUs the register sells (all but the web-only ones).
    let mut pos_skus = Vec::new();
    let mut catalog = Vec::new();
    for (i, item) in plan.items.iter().enumerate() {
        let noun = PRODUCTS[(seed as usize + i * 5) % PRODUCTS.len()];
        let brand: String = LastName().fake_with_rng(&mut rng);
        let sku = format!("{}-{}", noun.to_uppercase(), i + 1);
        let title = format!("{brand} {noun}");
        let web_only = item.web_only && plan.warehouse;
        let mut stock = Vec::new();
        for (j, s) in stores.iter().enumerate() {
            if !web_only {
                stock.push(format!("\"{s}\" = {}", item.stock[j.min(1)]));
            }
        }
        if plan.warehouse {
            stock.push(format!("warehouse = {}", item.stock[2]));
        }
        let mut text = String::new();
        let _ = writeln!(text);
        let _ = writeln!(text, "[[merchant.catalog]]");
        let _ = writeln!(text, "sku = \"{sku}\"");
        let _ = writeln!(text, "title = {}", quote(&title));
        let _ = writeln!(text, "price = \"{}\"", dollars(item.price_cents));
        if plan.taxed {
            let _ = writeln!(text, "tax_code = \"{TAX_CODE}\"");
        }
        let _ = writeln!(text, "stock = {{ {} }}", stock.join(", "));
        if web_only {
            let _ = writeln!(text, "on_pos = false");
        } else {
            pos_skus.push(sku.clone());
        }
        catalog.push(text);
        skus.push(sku);
    }

    // Steps, with absolute times.
    let opens = 9 * 3600u64;
    let mut t = opens;
    let mut order: Vec<&super::plan::StepPlan> = plan.steps.iter().collect();
    order.sort_by_key(|s| s.at_secs);
    let mut orders: Vec<Order> = Vec::new();
    let mut sales: Vec<Sale> = Vec::new();
    let mut body: Vec<(u64, String)> = Vec::new();
    let mut customers = 0usize;
    // Whether each SKU carries its tax code now.
    let mut taxed: Vec<bool> = vec![plan.taxed; skus.len()];
    // The SKU and location the last business step touched: a quick step
    // follows it there (two changes to one item inside one sync window).
    let mut touched: Option<(String, Option<String>)> = None;
    // A crash in the middle of the next business step's write: whether the
    // platform applies the write (and loses its answer) or refuses it.
    let mut crash_mid_write: Option<bool> = None;
    // The day's people who have signed up: (person, signed up online, at
    // the register).
    let mut people: Vec<(u8, bool, bool)> = Vec::new();
    // Promotions set up online: (name, end in seconds of the day).
    let mut promotions: Vec<(String, u64)> = Vec::new();
    // When the last bank transfer settles or fails (an hour after its checkout).
    let mut transfers_end: Option<u64> = None;
    // Stock added online: (SKU, location, when).
    let mut added_online: Vec<(String, String, u64)> = Vec::new();
    // Gift cards sold at a register: (code, times spent online).
    let mut cards: Vec<(String, u8)> = Vec::new();
    for s in order {
        // Steps that follow this one, each `QUICK_SECS` after the one before.
        let mut then: Vec<String> = Vec::new();
        // Fault windows around this step alone: (seconds before it, step).
        let mut around: Vec<(u64, String)> = Vec::new();
        let gap = u64::from(super::plan::MIN_GAP_SECS);
        // A quick step follows the one before within seconds: a cancel, a
        // stock addition, a price change or a recount cannot oversell, so
        // crowding them finds races a correct connector must survive.
        // A recount follows only the register's own step: seconds after a
        // change online that the register has not heard of yet, whether
        // the counted shelf already held that change is anyone's guess.
        let after_register = body
            .last()
            .is_some_and(|(_, step)| step.contains("actor = \"pos\""));
        let quick = (matches!(
            s.act,
            Act::Cancel { quick: true, .. }
                | Act::Adjust { quick: true, .. }
                | Act::Price { quick: true, .. }
        ) || matches!(s.act, Act::Count { quick: true, .. }) && after_register)
            && !body.is_empty();
        t = if quick {
            t + QUICK_SECS
        } else {
            (opens + gap + u64::from(s.at_secs)).max(t + gap)
        };
        let mut step = String::new();
        let w = &mut step;
        match &s.act {
            Act::Checkout {
                item,
                qty,
                at,
                ship,
                extra,
                discount,
                transfer,
                gift_card,
                late,
                cancelled,
            } => {
                let Some(sku) = pick(&skus, *item) else {
                    continue;
                };
                let mut lines = vec![(sku.clone(), *qty)];
                if let Some(extra) = extra
                    && let Some(other) = pick(&skus, *extra)
                    && other != sku
                {
                    lines.push((other.clone(), 1));
                }
                let first: String = FirstName().fake_with_rng(&mut rng);
                customers += 1;
                let customer = format!("{}-{customers}", first.to_lowercase());
                let (location, pickup) = if *ship {
                    (pick(&fulfil_from, *at).cloned().unwrap_or_default(), false)
                } else {
                    (pick(&stores, *at).cloned().unwrap_or_default(), true)
                };
                let _ = writeln!(w, "actor = \"shop\"\naction = \"checkout\"");
                let _ = writeln!(w, "customer = \"{customer}\"");
                let listed: Vec<String> = lines.iter().map(|(s, q)| format!("{s} = {q}")).collect();
                let _ = writeln!(w, "lines = {{ {} }}", listed.join(", "));
                if *discount {
                    let _ = writeln!(w, "discount_code = \"{DISCOUNT}\"");
                }
                let card = cards
                    .iter_mut()
                    .rev()
                    .find(|c| c.1 < GIFT_CARD_USES)
                    .filter(|_| *gift_card && transfer.is_none());
                let gift = card.is_some();
                if let Some(card) = card {
                    card.1 += 1;
                    let _ = writeln!(
                        w,
                        "payment = {{ type = \"gift_card\", code = \"{}\" }}",
                        card.0
                    );
                }
                if let Some(settles) = transfer {
                    transfers_end = transfers_end.max(Some(t + 3600));
                    let account = if *settles {
                        TRANSFER_SETTLES
                    } else {
                        TRANSFER_FAILS
                    };
                    let _ = writeln!(
                        w,
                        "payment = {{ type = \"bank_transfer\", account = \"{account}\" }}"
                    );
                }
                if pickup {
                    let _ = writeln!(w, "pickup_location = \"{location}\"");
                } else {
                    let _ = writeln!(w, "location = \"{location}\"");
                }
                touched = Some((sku.clone(), Some(location.clone())));
                if *late {
                    around.push(late_webhooks("shop"));
                }
                let cancelled = *cancelled && transfer.is_none();
                if cancelled {
                    then.push(format!(
                        "actor = \"staff\"\naction = \"cancel\"\norder = \"{customer}\"\n"
                    ));
                }
                orders.push(Order {
                    name: customer,
                    pickup,
                    location,
                    open: !cancelled,
                    lines,
                    collected: false,
                    returned: false,
                    transfer: transfer.is_some(),
                    gift,
                });
            }
            Act::Sale { store, item, qty } => {
                let (Some(sku), Some(store)) = (pick(&pos_skus, *item), pick(&stores, *store))
                else {
                    continue;
                };
                touched = Some((sku.clone(), Some(store.clone())));
                let name = format!("sale-{}", sales.len() + 1);
                let _ = writeln!(w, "actor = \"pos\"\naction = \"sale\"\nname = \"{name}\"");
                let _ = writeln!(w, "location = \"{store}\"\nlines = {{ {sku} = {qty} }}");
                sales.push(Sale {
                    name,
                    store: store.clone(),
                    sku: sku.clone(),
                    qty: *qty,
                    returned: false,
                });
            }
            Act::Return { sale, restock } => {
                let open: Vec<usize> = (0..sales.len()).filter(|i| !sales[*i].returned).collect();
                let Some(&i) = pick(&open, *sale) else {
                    continue;
                };
                let s = &mut sales[i];
                s.returned = true;
                let _ = writeln!(w, "actor = \"pos\"\naction = \"return\"");
                let _ = writeln!(w, "sale = \"{}\"\nlocation = \"{}\"", s.name, s.store);
                let _ = writeln!(
                    w,
                    "lines = {{ {} = {} }}\nrestock = {restock}",
                    s.sku, s.qty
                );
            }
            Act::Cancel { order, .. }
            | Act::Pickup { order }
            | Act::Fulfil { order }
            | Act::NoShow { order } => {
                let want_pickup = match &s.act {
                    Act::Pickup { .. } | Act::NoShow { .. } => Some(true),
                    Act::Fulfil { .. } => Some(false),
                    _ => None,
                };
                let open: Vec<usize> = (0..orders.len())
                    .filter(|i| {
                        let o = &orders[*i];
                        o.open && !o.transfer && want_pickup.is_none_or(|p| o.pickup == p)
                    })
                    .collect();
                let Some(&i) = pick(&open, *order) else {
                    continue;
                };
                let o = &mut orders[i];
                o.open = false;
                match &s.act {
                    Act::Cancel { .. } => {
                        let _ = writeln!(w, "actor = \"staff\"\naction = \"cancel\"");
                        let _ = writeln!(w, "order = \"{}\"", o.name);
                    }
                    Act::Pickup { .. } => {
                        o.collected = true;
                        let _ = writeln!(w, "actor = \"pos\"\naction = \"pickup\"");
                        let _ =
                            writeln!(w, "location = \"{}\"\norder = \"{}\"", o.location, o.name);
                    }
                    Act::NoShow { .. } => {
                        let _ = writeln!(w, "actor = \"pos\"\naction = \"no_show\"");
                        let _ = writeln!(w, "order = \"{}\"", o.name);
                    }
                    _ => {
                        o.collected = true;
                        let _ = writeln!(w, "actor = \"staff\"\naction = \"fulfil\"");
                        let _ = writeln!(w, "order = \"{}\"", o.name);
                    }
                }
            }
            Act::Adjust {
                item,
                at,
                qty,
                quick,
                late,
                sold,
            } => {
                let follows = touched
                    .clone()
                    .filter(|_| *quick)
                    .and_then(|(sku, loc)| Some((sku, loc.filter(|l| fulfil_from.contains(l))?)));
                let (sku, loc) = match follows {
                    Some(both) => both,
                    None => {
                        let (Some(sku), Some(loc)) = (pick(&skus, *item), pick(&fulfil_from, *at))
                        else {
                            continue;
                        };
                        (sku.clone(), loc.clone())
                    }
                };
                touched = Some((sku.clone(), Some(loc.clone())));
                let _ = writeln!(w, "actor = \"staff\"\naction = \"adjust\"");
                let _ = writeln!(w, "sku = \"{sku}\"\nlocation = \"{loc}\"\nquantity = {qty}");
                if *late {
                    around.push(late_webhooks("shop"));
                }
                added_online.push((sku.clone(), loc.clone(), t));
                // A counter sale seconds after units were added online cannot
                // oversell: the register sells only what it counts.
                if *sold && stores.contains(&loc) && pos_skus.contains(&sku) {
                    let name = format!("sale-{}", sales.len() + 1);
                    then.push(format!(
                        "actor = \"pos\"\naction = \"sale\"\nname = \"{name}\"\n\
                         location = \"{loc}\"\nlines = {{ {sku} = 1 }}\n"
                    ));
                    sales.push(Sale {
                        name,
                        store: loc.clone(),
                        sku: sku.clone(),
                        qty: 1,
                        returned: false,
                    });
                }
            }
            Act::Receive { item, store, qty } => {
                let (Some(sku), Some(store)) = (pick(&pos_skus, *item), pick(&stores, *store))
                else {
                    continue;
                };
                touched = Some((sku.clone(), Some(store.clone())));
                let _ = writeln!(w, "actor = \"pos\"\naction = \"receive\"");
                let _ = writeln!(
                    w,
                    "sku = \"{sku}\"\nlocation = \"{store}\"\nquantity = {qty}"
                );
            }
            Act::Count {
                item,
                store,
                qty,
                quick,
            } => {
                let follows = touched
                    .clone()
                    .filter(|_| *quick && after_register)
                    .and_then(|(sku, loc)| {
                        let sku = pos_skus.iter().find(|s| **s == sku)?;
                        let store = stores.iter().find(|s| Some(*s) == loc.as_ref())?;
                        Some((sku, store))
                    });
                let (sku, store) = match follows {
                    Some(both) => both,
                    None => {
                        let (Some(sku), Some(store)) =
                            (pick(&pos_skus, *item), pick(&stores, *store))
                        else {
                            continue;
                        };
                        (sku, store)
                    }
                };
                // Units set aside for an open order are not on the register's
                // shelf count but are in the truth's: a count then is not
                // comparable, so none is made (see BENCHMARKS.md).
                let held = orders.iter().any(|o| {
                    o.open && o.location == *store && o.lines.iter().any(|(s, _)| s == sku)
                });
                // Nor within a minute of units added online there: the
                // register may not have heard of them yet (their webhook can
                // be 30 seconds late), and whether the counted shelf held
                // them is anyone's guess.
                let unheard = added_online
                    .iter()
                    .any(|(s, l, at)| s == sku && l == store && t < at + 60);
                if held || unheard {
                    continue;
                }
                touched = Some((sku.clone(), Some(store.clone())));
                let _ = writeln!(w, "actor = \"pos\"\naction = \"count\"");
                let _ = writeln!(
                    w,
                    "sku = \"{sku}\"\nlocation = \"{store}\"\nquantity = {qty}"
                );
            }
            Act::OrderReturn {
                order,
                line,
                restock,
                answer_lost,
            } => {
                let done: Vec<usize> = (0..orders.len())
                    .filter(|i| orders[*i].collected && !orders[*i].returned)
                    .collect();
                let Some(&i) = pick(&done, *order) else {
                    continue;
                };
                let o = &mut orders[i];
                let Some((sku, _)) = pick(&o.lines, *line).cloned() else {
                    continue;
                };
                o.returned = true;
                // Brought to the store it was collected at, or the first store.
                let store = if stores.contains(&o.location) {
                    o.location.clone()
                } else {
                    stores[0].clone()
                };
                let _ = writeln!(w, "actor = \"pos\"\naction = \"return\"");
                let _ = writeln!(w, "order = \"{}\"\nlocation = \"{store}\"", o.name);
                let _ = writeln!(
                    w,
                    "lines = {{ {sku} = 1 }}\nrestock = {restock}\nrefund_to = \"original\""
                );
                // The connector writes the refund to the shop.
                if *answer_lost {
                    around.push(answers_lost("shop", "0.5", "2m"));
                }
            }
            Act::Refund { order, store } => {
                let done: Vec<usize> = (0..orders.len())
                    .filter(|i| orders[*i].collected && !orders[*i].returned)
                    .collect();
                let (Some(&i), Some(store)) = (pick(&done, *order), pick(&stores, *store)) else {
                    continue;
                };
                let o = &mut orders[i];
                o.returned = true;
                let listed: Vec<String> =
                    o.lines.iter().map(|(s, q)| format!("{s} = {q}")).collect();
                let _ = writeln!(w, "actor = \"staff\"\naction = \"refund\"");
                let _ = writeln!(w, "order = \"{}\"", o.name);
                let _ = writeln!(
                    w,
                    "lines = {{ {} }}\nlocation = \"{store}\"",
                    listed.join(", ")
                );
            }
            Act::Price {
                item,
                cents,
                quick,
                late,
                corrected,
            } => {
                let sku = match touched.clone().filter(|_| *quick) {
                    Some((sku, _)) => sku,
                    None => {
                        let Some(sku) = pick(&skus, *item) else {
                            continue;
                        };
                        sku.clone()
                    }
                };
                touched = Some((sku.clone(), None));
                let _ = writeln!(w, "actor = \"staff\"\naction = \"price\"");
                let _ = writeln!(w, "sku = \"{sku}\"\nprice = \"{}\"", dollars(*cents));
                if *late {
                    around.push(late_webhooks("shop"));
                }
                if let Some(c) = corrected.filter(|c| c != cents) {
                    then.push(online_price(&sku, c));
                }
            }
            Act::PosPrice {
                item,
                cents,
                answer_lost,
                contested,
            } => {
                let Some(sku) = pick(&pos_skus, *item) else {
                    continue;
                };
                touched = Some((sku.clone(), None));
                let _ = writeln!(w, "actor = \"staff\"\naction = \"price\"\ntarget = \"pos\"");
                let _ = writeln!(w, "sku = \"{sku}\"\nprice = \"{}\"", dollars(*cents));
                // The connector carries the register's price to the shop.
                if *answer_lost {
                    around.push(answers_lost("shop", "0.5", "2m"));
                }
                if let Some(c) = contested.filter(|c| c != cents) {
                    then.push(online_price(sku, c));
                }
            }
            Act::Tax { item } => {
                if !plan.taxed || skus.is_empty() {
                    continue;
                }
                let i = usize::from(*item) % skus.len();
                taxed[i] = !taxed[i];
                let code = if taxed[i] { TAX_CODE } else { "" };
                touched = Some((skus[i].clone(), None));
                let _ = writeln!(w, "actor = \"staff\"\naction = \"tax\"");
                let _ = writeln!(w, "sku = \"{}\"\ntax_code = \"{code}\"", skus[i]);
            }
            Act::Shorten { order, line } => {
                let waiting: Vec<usize> = (0..orders.len())
                    .filter(|i| {
                        let o = &orders[*i];
                        o.open && o.pickup && !o.transfer && o.units() > 1
                    })
                    .collect();
                let Some(&i) = pick(&waiting, *order) else {
                    continue;
                };
                let o = &mut orders[i];
                let j = usize::from(*line) % o.lines.len();
                let sku = o.lines[j].0.clone();
                o.lines[j].1 -= 1;
                if o.lines[j].1 == 0 {
                    o.lines.remove(j);
                }
                touched = Some((sku.clone(), Some(o.location.clone())));
                let _ = writeln!(w, "actor = \"staff\"\naction = \"refund\"");
                let _ = writeln!(w, "order = \"{}\"\nlines = {{ {sku} = 1 }}", o.name);
            }
            Act::DashboardRefund { order, full } => {
                let done: Vec<usize> = (0..orders.len())
                    .filter(|i| orders[*i].collected && !orders[*i].returned && !orders[*i].gift)
                    .collect();
                let Some(&i) = pick(&done, *order) else {
                    continue;
                };
                let o = &mut orders[i];
                o.returned = true;
                let _ = writeln!(w, "actor = \"pay\"\naction = \"refund\"");
                let _ = writeln!(w, "order = \"{}\"", o.name);
                if !*full {
                    let _ = writeln!(w, "amount = \"0.50\"");
                }
            }
            Act::Signup {
                person,
                pos,
                capitals,
                phone,
                accepts_marketing,
                both,
            } => {
                let signup = |pos: bool, capitals: bool| {
                    let (first, last) = PEOPLE[usize::from(*person) % PEOPLE.len()];
                    let email = if capitals {
                        format!("{first}.{last}@Example.com")
                    } else {
                        format!("{first}.{last}@example.com").to_lowercase()
                    };
                    let actor = if pos { "pos" } else { "shop" };
                    let mut w = String::new();
                    let _ = writeln!(w, "actor = \"{actor}\"\naction = \"signup\"");
                    let _ = writeln!(w, "customer = \"{first} {last}\"\nemail = \"{email}\"");
                    if *phone {
                        let n = usize::from(*person) % PEOPLE.len();
                        let _ = if pos {
                            writeln!(w, "phone = \"+1 (415) 555-010{n}\"")
                        } else {
                            writeln!(w, "phone = \"+1415555010{n}\"")
                        };
                    }
                    let _ = writeln!(w, "accepts_marketing = {accepts_marketing}");
                    w
                };
                w.push_str(&signup(*pos, *capitals));
                if *both {
                    then.push(signup(!*pos, !*capitals));
                }
                let (online, register) = (!*pos || *both, *pos || *both);
                match people.iter_mut().find(|p| p.0 == *person) {
                    Some(p) => {
                        p.1 |= online;
                        p.2 |= register;
                    }
                    None => people.push((*person, online, register)),
                }
            }
            Act::Promote {
                item,
                percent,
                minutes,
            } => {
                let Some(sku) = pick(&skus, *item) else {
                    continue;
                };
                let name = format!("PROMO-{}", promotions.len() + 1);
                let ends = t + 60 * u64::from(*minutes);
                touched = Some((sku.clone(), None));
                let _ = writeln!(w, "actor = \"staff\"\naction = \"promote\"");
                let _ = writeln!(w, "promotion = \"{name}\"\npercent_off = \"{percent}\"");
                let _ = writeln!(w, "skus = [\"{sku}\"]");
                let _ = writeln!(
                    w,
                    "starts = \"{}\"\nends = \"{}\"",
                    clock(t + 60),
                    clock(ends)
                );
                promotions.push((name, ends));
            }
            Act::EndPromotion { promotion, minutes } => {
                let ends = t + 60 * u64::from(*minutes);
                let running: Vec<usize> = (0..promotions.len())
                    .filter(|i| promotions[*i].1 > ends)
                    .collect();
                let Some(&i) = pick(&running, *promotion) else {
                    continue;
                };
                promotions[i].1 = ends;
                let _ = writeln!(w, "actor = \"staff\"\naction = \"end_promotion\"");
                let _ = writeln!(
                    w,
                    "promotion = \"{}\"\nends = \"{}\"",
                    promotions[i].0,
                    clock(ends)
                );
            }
            Act::GiftCard { store } => {
                let Some(store) = pick(&stores, *store) else {
                    continue;
                };
                let code = format!("GC-{}", cards.len() + 1);
                let _ = writeln!(w, "actor = \"pos\"\naction = \"sale\"");
                let _ = writeln!(w, "location = \"{store}\"");
                let _ = writeln!(
                    w,
                    "gift_cards = [{{ code = \"{code}\", amount = \"{GIFT_CARD}\" }}]"
                );
                cards.push((code, 0));
            }
            Act::Consent {
                person,
                other,
                accepts_marketing,
            } => {
                let Some(&(p, online, register)) = pick(&people, *person) else {
                    continue;
                };
                let (first, last) = PEOPLE[usize::from(p) % PEOPLE.len()];
                let actor = match (online, register) {
                    (true, true) if *other => "pos",
                    (true, _) => "shop",
                    _ => "pos",
                };
                let email = format!("{first}.{last}@example.com").to_lowercase();
                let _ = writeln!(w, "actor = \"{actor}\"\naction = \"consent\"");
                let _ = writeln!(
                    w,
                    "email = \"{email}\"\naccepts_marketing = {accepts_marketing}"
                );
            }
            Act::CrashMidWrite { applied } => {
                crash_mid_write = Some(*applied);
                continue;
            }
            Act::Replay { target, forged } => {
                let (Some(sku), Some(store)) = (skus.first(), stores.first()) else {
                    continue;
                };
                // The POS signs no timestamp: only a forgery targets it.
                let target = TARGETS[usize::from(*target) % 3];
                let action = if *forged || target == "pos" {
                    "forge"
                } else {
                    "replay"
                };
                let _ = writeln!(w, "actor = \"nemesis\"\naction = \"{action}\"");
                let _ = writeln!(w, "target = \"{target}\"");
                let _ = writeln!(w, "sku = \"{sku}\"\nlocation = \"{store}\"\nquantity = 1");
                let _ = writeln!(w, "expect_error = \"invalid_signature\"");
            }
            Act::Fault {
                target,
                kind,
                minutes,
            } => {
                let target = TARGETS[usize::from(*target) % 3];
                let _ = writeln!(w, "actor = \"nemesis\"\naction = \"faults\"");
                let _ = writeln!(w, "target = \"{target}\"");
                let _ = writeln!(w, "faults = {}", fault_table(*kind, *minutes));
                let _ = writeln!(w, "duration = \"{minutes}m\"");
            }
            Act::Crash { downtime_secs } => {
                let _ = writeln!(w, "actor = \"nemesis\"\naction = \"crash\"");
                let _ = writeln!(w, "duration = \"{downtime_secs}s\"");
            }
            Act::Partition { target, secs } => {
                let target = TARGETS[usize::from(*target) % 3];
                let _ = writeln!(w, "actor = \"nemesis\"\naction = \"partition\"");
                let _ = writeln!(w, "target = \"{target}\"\nduration = \"{secs}s\"");
            }
            Act::Rotate { target, minutes } => {
                let target = TARGETS[usize::from(*target) % 3];
                let _ = writeln!(w, "actor = \"nemesis\"\naction = \"rotate\"");
                let _ = writeln!(w, "target = \"{target}\"\nduration = \"{minutes}m\"");
            }
            Act::Skew {
                target,
                secs,
                minutes,
            } => {
                let target = TARGETS[usize::from(*target) % 3];
                let _ = writeln!(w, "actor = \"nemesis\"\naction = \"faults\"");
                let _ = writeln!(w, "target = \"{target}\"");
                let _ = writeln!(
                    w,
                    "faults = {{ clock_skew_ms = {} }}",
                    i64::from(*secs) * 1000
                );
                let _ = writeln!(w, "duration = \"{minutes}m\"");
            }
        }
        for (before, window) in around {
            body.push((t.saturating_sub(before), window));
        }
        let business = !step.starts_with("actor = \"nemesis\"");
        match crash_mid_write.take() {
            Some(applied) if business => {
                // The platform the connector writes this step's change to.
                let target =
                    if step.starts_with("actor = \"pos\"") || step.starts_with("actor = \"pay\"") {
                        "shop"
                    } else {
                        "pos"
                    };
                let (before, window) = if applied {
                    answers_lost(target, "1.0", "20s")
                } else {
                    (
                        2,
                        format!(
                            "actor = \"nemesis\"\naction = \"faults\"\ntarget = \"{target}\"\n\
                             faults = {{ error_rate = 1.0 }}\nduration = \"20s\"\n"
                        ),
                    )
                };
                body.push((t.saturating_sub(before), window));
                body.push((t, step));
                t += 3;
                body.push((
                    t,
                    "actor = \"nemesis\"\naction = \"crash\"\nduration = \"1m\"\n".to_owned(),
                ));
            }
            pending => {
                crash_mid_write = pending;
                body.push((t, step));
            }
        }
        for step in then {
            t += QUICK_SECS;
            body.push((t, step));
        }
    }
    // A window opened before its step may precede the step before that
    // (seconds apart); stable, so equal times keep their order.
    body.sort_by_key(|(at, _)| *at);
    if profile == FaultProfile::Heavy {
        let end = t.max(opens + 600) + 300;
        let span = end - opens;
        let mut nemesis = Vec::new();
        for target in TARGETS {
            let webhooks = if target == "pay" {
                String::new()
            } else {
                ", webhooks = { drop_rate = 0.2, duplicate_rate = 0.2, reorder_window_ms = 5000 }"
                    .to_owned()
            };
            nemesis.push((
                opens + 1,
                format!(
                    "actor = \"nemesis\"\naction = \"faults\"\ntarget = \"{target}\"\n\
                     faults = {{ error_rate = 0.05{webhooks} }}\nduration = \"{span}s\"\n"
                ),
            ));
        }
        let mut c = opens + 600;
        while c < end {
            nemesis.push((
                c,
                "actor = \"nemesis\"\naction = \"crash\"\nduration = \"20s\"\n".to_owned(),
            ));
            c += 600;
        }
        body.extend(nemesis);
        // Stable: at equal times the business step keeps its place first.
        body.sort_by_key(|(at, _)| *at);
    }
    // The catalog: every SKU, or with `prune_skus` only those a step names.
    let named = |sku: &str| {
        body.iter().any(|(_, text)| {
            text.contains(&format!(" {sku} = ")) || text.contains(&format!("\"{sku}\""))
        })
    };
    let mut listed = 0;
    for (i, (sku, text)) in skus.iter().zip(&catalog).enumerate() {
        let last_chance = i + 1 == skus.len() && listed == 0;
        if !header.prune_skus || named(sku) || last_chance {
            out.push_str(text);
            listed += 1;
        }
    }
    if let Some(engine) = &header.engine {
        let _ = writeln!(out);
        let _ = writeln!(out, "[connector]");
        let _ = writeln!(out, "engine = {engine}");
    }
    // The world settles after the last step for `settle` (30 minutes unless
    // the header says otherwise), and at least that long after the last bank
    // transfer settles or fails: the platform's own change that late is the
    // connector's to carry like any other.
    let base = header.settle.as_deref().map_or(30 * 60, |s| {
        s.strip_suffix('m')
            .and_then(|m| m.parse::<u64>().ok())
            .map_or(30 * 60, |m| m * 60)
    });
    let last = body.last().map_or(opens, |(at, _)| *at);
    let settle = match transfers_end {
        Some(end) if end > last => Some(format!("{}m", (end + base - last).div_ceil(60))),
        _ => header.settle.clone(),
    };
    if let Some(settle) = settle {
        out.insert_str(settle_at, &format!("settle = \"{settle}\"\n"));
    }
    let steps = body.len();
    for (i, (at, text)) in body.into_iter().enumerate() {
        let _ = writeln!(out);
        let _ = writeln!(out, "[[step]]");
        let _ = writeln!(out, "at = \"{}\"", clock(at));
        out.push_str(&text);
        // A step that expects its refusal already says so (a forged webhook).
        if let Some(code) = header.expect_errors.get(&i)
            && !text.contains("\nexpect_error = ")
        {
            let _ = writeln!(out, "expect_error = \"{code}\"");
        }
    }
    Rendered {
        toml: out,
        steps,
        skus: listed,
    }
}

/// A price typed into the shop's admin.
fn online_price(sku: &str, cents: u32) -> String {
    format!(
        "actor = \"staff\"\naction = \"price\"\nsku = \"{sku}\"\nprice = \"{}\"\n",
        dollars(cents)
    )
}

/// From a second before a step for a second and a half, the platform's
/// first delivery of every webhook fails and each arrives 30 seconds late:
/// a change made two seconds after the step is heard before it.
fn late_webhooks(target: &str) -> (u64, String) {
    (
        1,
        format!(
            "actor = \"nemesis\"\naction = \"faults\"\ntarget = \"{target}\"\n\
             faults = {{ webhooks = {{ drop_rate = 1.0, redeliver_dropped_after_ms = 30000 }} }}\n\
             duration = \"1500ms\"\n"
        ),
    )
}

/// From two seconds before a step, the platform applies every request but
/// loses the answer to the given share of them (the writer does not know
/// whether its write landed).
fn answers_lost(target: &str, share: &str, duration: &str) -> (u64, String) {
    (
        2,
        format!(
            "actor = \"nemesis\"\naction = \"faults\"\ntarget = \"{target}\"\n\
             faults = {{ timeout_rate = {share}, timeout_ms = 20000 }}\nduration = \"{duration}\"\n"
        ),
    )
}

fn fault_table(kind: FaultKind, minutes: u8) -> String {
    // Vary the strength a little with the window so shrinking can weaken it.
    let strength = f64::from(minutes.clamp(1, 10)) / 10.0;
    match kind {
        FaultKind::Latency => {
            "{ latency = { kind = \"lognormal\", p50_ms = 80, p99_ms = 3000 } }".to_owned()
        }
        FaultKind::Errors => format!("{{ error_rate = {:.2} }}", 0.1 + 0.3 * strength),
        FaultKind::Timeouts => format!(
            "{{ timeout_rate = {:.2}, timeout_ms = 15000 }}",
            0.05 + 0.2 * strength
        ),
        FaultKind::RateLimit => "{ rate_limit = { capacity = 4, leak_per_sec = 1 } }".to_owned(),
        FaultKind::WebhookDelay => {
            "{ webhooks = { delay = { kind = \"uniform\", min_ms = 0, max_ms = 20000 } } }"
                .to_owned()
        }
        FaultKind::WebhookDuplicate => format!(
            "{{ webhooks = {{ duplicate_rate = {:.2}, duplicate_simultaneous = {} }} }}",
            0.2 + 0.8 * strength,
            minutes.is_multiple_of(2)
        ),
        FaultKind::WebhookDrop => {
            if minutes.is_multiple_of(2) {
                format!(
                    "{{ webhooks = {{ drop_rate = {:.2}, redeliver_dropped_after_ms = 30000 }} }}",
                    0.2 + 0.8 * strength
                )
            } else {
                format!(
                    "{{ webhooks = {{ drop_rate = {:.2} }} }}",
                    0.2 + 0.8 * strength
                )
            }
        }
        FaultKind::WebhookReorder => "{ webhooks = { reorder_window_ms = 10000 } }".to_owned(),
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::plan::{ItemPlan, StepPlan};

    fn plan(steps: Vec<StepPlan>) -> Plan {
        Plan {
            stores: 1,
            warehouse: false,
            pos_masters_price: false,
            taxed: false,
            items: vec![ItemPlan {
                price_cents: 100,
                stock: [3, 0, 0],
                web_only: false,
            }],
            steps,
        }
    }

    #[test]
    fn a_forged_webhook_expects_its_refusal_once_and_the_file_loads() {
        let p = plan(vec![StepPlan {
            at_secs: 0,
            act: Act::Replay {
                target: 0,
                forged: true,
            },
        }]);
        let header = Header {
            expect_errors: [(0, "invalid_signature".to_owned())].into(),
            ..Header::default()
        };
        let r = render(&p, 7, FaultProfile::None, &header);
        assert_eq!(r.toml.matches("expect_error = ").count(), 1, "{}", r.toml);
        crate::validate::load_str(std::path::Path::new("case.toml"), &r.toml)
            .unwrap_or_else(|e| panic!("{e:?}\n{}", r.toml));
    }

    #[test]
    fn the_world_settles_past_the_last_bank_transfer() {
        let p = plan(vec![StepPlan {
            at_secs: 0,
            act: Act::Checkout {
                item: 0,
                qty: 1,
                at: 0,
                ship: false,
                extra: None,
                discount: false,
                transfer: Some(false),
                gift_card: false,
                late: false,
                cancelled: false,
            },
        }]);
        let header = Header {
            settle: Some("10m".into()),
            ..Header::default()
        };
        let r = render(&p, 7, FaultProfile::None, &header);
        // The transfer fails an hour after the checkout, the last step: the
        // world settles ten minutes past that.
        assert!(r.toml.contains("\nsettle = \"70m\"\n"), "{}", r.toml);
        crate::validate::load_str(std::path::Path::new("case.toml"), &r.toml)
            .unwrap_or_else(|e| panic!("{e:?}\n{}", r.toml));
    }
}
