//! What exploration generates: a small, plain plan of a merchant's day that
//! renders to an ordinary scenario file.
//!
//! The plan refers to earlier things by *choice numbers* (`order: 3` means
//! "one of the orders still open, picked by 3"), never by position, so that
//! any sub-sequence of a plan is still a valid plan: shrinking may drop any
//! step, and the renderer resolves each choice against what exists at that
//! point, dropping a step whose precondition no longer holds (a pickup with
//! no open order left, a return with no sale to return).

use proptest::prelude::*;

/// How much of the fault catalogue a case uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaultProfile {
    /// No faults: a clean network and a connector that never crashes.
    None,
    /// Fault windows drawn at random among the steps (every kind of fault).
    #[default]
    Random,
    /// A hostile day from start to end: 20 % of webhooks dropped, 20 %
    /// duplicated, reordered, 5 % of API calls answered 5xx, and the engine
    /// crashing every 10 simulated minutes.
    Heavy,
}

impl std::str::FromStr for FaultProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(FaultProfile::None),
            "random" => Ok(FaultProfile::Random),
            "heavy" => Ok(FaultProfile::Heavy),
            _ => Err(format!(
                "`{s}` is not a fault profile: expected `none`, `random` or `heavy`"
            )),
        }
    }
}

/// The shape of generated cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// At most this many actor and nemesis steps (before preconditions drop any).
    pub max_steps: usize,
    /// At most this many SKUs.
    pub max_skus: usize,
    /// Which faults are drawn.
    pub faults: FaultProfile,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            max_steps: 50,
            max_skus: 4,
            faults: FaultProfile::Random,
        }
    }
}

/// One generated case, before rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Number of stores (1 or 2).
    pub stores: u8,
    /// Whether a warehouse ships online orders too.
    pub warehouse: bool,
    /// The register owns prices (`catalog_master = { price = "pos" }`): a
    /// price typed into the shop's admin is the non-master edit.
    pub pos_masters_price: bool,
    /// Items carry a tax code (the same rate on both platforms), so a tax
    /// change has something to change.
    pub taxed: bool,
    /// The catalog.
    pub items: Vec<ItemPlan>,
    /// What happens, in order.
    pub steps: Vec<StepPlan>,
}

/// One SKU: its price and its starting stock per location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemPlan {
    /// Price in cents.
    pub price_cents: u32,
    /// Starting units at store 1, store 2 and the warehouse.
    pub stock: [u8; 3],
    /// Sold online only (`on_pos = false`): stocked at the warehouse, unknown
    /// to the register. Only with a warehouse.
    pub web_only: bool,
}

/// One step: when, and what.
///
/// Times are offsets from opening, not gaps, so that dropping a step while
/// shrinking does not move the others. The renderer sorts steps by time and
/// keeps them at least [`MIN_GAP_SECS`] apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepPlan {
    /// Seconds after opening.
    pub at_secs: u32,
    /// What happens.
    pub act: Act,
}

/// An action, with choice numbers for what it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    /// A customer orders online, for pickup at a store or for shipping.
    Checkout {
        /// Which SKU.
        item: u8,
        /// How many units (1..=3).
        qty: u8,
        /// Which store (pickup) or fulfilling location (shipping).
        at: u8,
        /// Ship rather than pick up.
        ship: bool,
        /// A second line: which SKU (a different one), if any.
        extra: Option<u8>,
        /// Whether the customer uses the shop's discount code.
        discount: bool,
        /// Paid by bank transfer rather than card: `Some(true)` settles an
        /// hour later, `Some(false)` fails an hour later.
        transfer: Option<bool>,
        /// Paid with a gift card sold earlier at a register, when one still
        /// holds enough (and not by bank transfer).
        gift_card: bool,
        /// The shop's first delivery of its webhooks fails and they arrive
        /// 30 seconds late (redelivered).
        late: bool,
        /// Cancelled by staff two seconds later, its webhooks still on the
        /// way (with `late`, the cancellation is heard before the order).
        cancelled: bool,
    },
    /// Staff drop one unit of a line from an open pickup order before it is
    /// collected (refunded off the authorization, the unit back on sale).
    Shorten {
        /// Which open pickup order with more than one unit.
        order: u8,
        /// Which of its lines.
        line: u8,
    },
    /// The owner refunds a handed-over order from the gateway's dashboard,
    /// not from the shop (a refund the shop did not make).
    DashboardRefund {
        /// Which collected, unreturned online order.
        order: u8,
        /// All of it, or a 0.50 goodwill gesture.
        full: bool,
    },
    /// A clerk sells at the counter.
    Sale {
        /// Which store.
        store: u8,
        /// Which SKU.
        item: u8,
        /// How many units.
        qty: u8,
    },
    /// A customer brings back an earlier counter sale.
    Return {
        /// Which sale still unreturned.
        sale: u8,
        /// Whether the units go back on the shelf.
        restock: bool,
    },
    /// An open online order is cancelled (by the customer or staff).
    Cancel {
        /// Which open order.
        order: u8,
        /// Two seconds after the step before (an order cancelled while its
        /// webhooks are still on the way), not at its own time.
        quick: bool,
    },
    /// An open pickup order is collected at its store.
    Pickup {
        /// Which open pickup order.
        order: u8,
    },
    /// Staff ship an open shipping order.
    Fulfil {
        /// Which open shipping order.
        order: u8,
    },
    /// Staff adjust stock in the shop's admin.
    Adjust {
        /// Which SKU.
        item: u8,
        /// Which location.
        at: u8,
        /// Units added (1..=5).
        qty: u8,
        /// Two seconds after the step before (changes on both channels
        /// inside one sync window), not at its own time.
        quick: bool,
        /// The shop's first delivery of its webhook fails and it arrives 30
        /// seconds late (redelivered).
        late: bool,
        /// A clerk sells one of the item at that store two seconds later,
        /// before the register has heard of the addition (with `late`, the
        /// sale is heard first).
        sold: bool,
    },
    /// A delivery is received at the register.
    Receive {
        /// Which SKU.
        item: u8,
        /// Which store.
        store: u8,
        /// Units received.
        qty: u8,
    },
    /// A clerk counts the shelf and enters what is there (often nothing:
    /// recounts to zero).
    Count {
        /// Which SKU.
        item: u8,
        /// Which store.
        store: u8,
        /// Units counted.
        qty: u8,
        /// Seconds after the step before, of the item and store it touched
        /// (a recount inside one sync window with a change online).
        quick: bool,
    },
    /// A customer brings one unit of a collected online order back to a
    /// store (a partial return, discounted lines pro rata).
    OrderReturn {
        /// Which collected, unreturned online order.
        order: u8,
        /// Which of its lines.
        line: u8,
        /// Whether the unit goes back on the shelf.
        restock: bool,
        /// For two minutes the shop loses the answers to half the requests
        /// it applies (perhaps those of the refund for this return).
        answer_lost: bool,
    },
    /// Staff refund a collected online order in full, the goods restocked
    /// at a store.
    Refund {
        /// Which collected, unreturned online order.
        order: u8,
        /// Which store takes the goods back.
        store: u8,
    },
    /// A clerk closes an open pickup as a no-show at the register.
    NoShow {
        /// Which open pickup order.
        order: u8,
    },
    /// Staff change a price on the shop.
    Price {
        /// Which SKU.
        item: u8,
        /// The new price in cents.
        cents: u32,
        /// Two seconds after the step before, on its SKU when it had one (a
        /// price corrected at once), not at its own time.
        quick: bool,
        /// The shop's first delivery of its webhook fails and it arrives 30
        /// seconds late (redelivered).
        late: bool,
        /// Corrected to this price two seconds later (with `late`, the
        /// correction is heard before the change it corrects).
        corrected: Option<u32>,
    },
    /// The store manager changes a price on the register.
    PosPrice {
        /// Which SKU (of those the register sells).
        item: u8,
        /// The new price in cents.
        cents: u32,
        /// For two minutes the shop loses the answers to half the requests
        /// it applies (perhaps those of the write carrying this price).
        answer_lost: bool,
        /// The web team sets this price online two seconds later, while the
        /// connector still waits for the answer to its write.
        contested: Option<u32>,
    },
    /// Staff add or remove an item's tax code on the shop (only when the
    /// merchant's items are taxed).
    Tax {
        /// Which SKU.
        item: u8,
    },
    /// A person makes a customer profile, online or at the register.
    Signup {
        /// Which of the day's four people.
        person: u8,
        /// At the register rather than online.
        pos: bool,
        /// The email typed with capitals (`Ada.Byron@Example.com`): the same
        /// address, in another case.
        capitals: bool,
        /// With a phone number too.
        phone: bool,
        /// Ticks the marketing box.
        accepts_marketing: bool,
        /// Signs up on the other channel too, seconds later, with the email
        /// in the other case and the phone in the other format (both
        /// channels at once, before any sync).
        both: bool,
    },
    /// Staff set up an automatic promotion online, a percentage off one
    /// item on both channels, starting a minute later.
    Promote {
        /// Which SKU.
        item: u8,
        /// Percent off (5..=50).
        percent: u8,
        /// How long it is to run, in minutes.
        minutes: u8,
    },
    /// Staff end a running promotion early online, a few minutes from now.
    EndPromotion {
        /// Which running promotion.
        promotion: u8,
        /// Minutes from now to its new end (1..=10).
        minutes: u8,
    },
    /// A customer buys a gift card at a register, with cash.
    GiftCard {
        /// Which store.
        store: u8,
    },
    /// A person who has signed up changes their marketing choice, on a
    /// channel where they signed up.
    Consent {
        /// Which of the people signed up so far.
        person: u8,
        /// On their other channel, when they signed up on both.
        other: bool,
        /// The new choice.
        accepts_marketing: bool,
    },
    /// A window of injected faults on one platform.
    Fault {
        /// Which platform (`pos`, `shop`, `pay`).
        target: u8,
        /// Which fault.
        kind: FaultKind,
        /// How long, in minutes.
        minutes: u8,
    },
    /// The connector crashes and is restarted after `downtime_secs`.
    Crash {
        /// Seconds before the restart.
        downtime_secs: u16,
    },
    /// The connector is killed in the middle of its write for the next
    /// business step: the platform it writes to stops answering just before
    /// that step, and the crash comes three seconds after it.
    CrashMidWrite {
        /// The platform applies the write and loses only its answer
        /// (timeouts), rather than refusing it (5xx).
        applied: bool,
    },
    /// One platform is cut off from the connector for a window.
    Partition {
        /// Which platform.
        target: u8,
        /// Seconds.
        secs: u16,
    },
    /// A platform rotates its webhook signing secret; the old one keeps
    /// signing for the overlap.
    Rotate {
        /// Which platform.
        target: u8,
        /// Overlap in minutes.
        minutes: u8,
    },
    /// Someone replays a correctly signed webhook an hour later (a stale
    /// signature), or posts one with a MAC that does not verify (forged).
    Replay {
        /// Which platform (`shop` or `pay` for a replay; any for a forgery).
        target: u8,
        /// Forged rather than replayed.
        forged: bool,
    },
    /// A platform's clock runs ahead or behind for a window.
    Skew {
        /// Which platform.
        target: u8,
        /// Seconds of skew (negative: behind).
        secs: i16,
        /// How long, in minutes.
        minutes: u8,
    },
}

/// The kinds of fault window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Log-normal API latency.
    Latency,
    /// 5xx answers.
    Errors,
    /// Requests applied but never answered in time.
    Timeouts,
    /// 429 bursts from a small leaky bucket.
    RateLimit,
    /// Webhooks delayed.
    WebhookDelay,
    /// Webhooks delivered twice (sometimes both at once).
    WebhookDuplicate,
    /// Webhooks dropped (sometimes redelivered later).
    WebhookDrop,
    /// Webhooks reordered.
    WebhookReorder,
}

const FAULT_KINDS: [FaultKind; 8] = [
    FaultKind::Latency,
    FaultKind::Errors,
    FaultKind::Timeouts,
    FaultKind::RateLimit,
    FaultKind::WebhookDelay,
    FaultKind::WebhookDuplicate,
    FaultKind::WebhookDrop,
    FaultKind::WebhookReorder,
];

fn fault_kind() -> impl Strategy<Value = FaultKind> {
    (0..FAULT_KINDS.len()).prop_map(|i| FAULT_KINDS[i])
}

fn business_act() -> BoxedStrategy<Act> {
    prop_oneof![
        5 => (
            (any::<u8>(), 1u8..=3, any::<u8>(), any::<bool>()),
            proptest::option::weighted(0.3, any::<u8>()),
            proptest::bool::weighted(0.3),
            proptest::option::weighted(0.15, any::<bool>()),
            proptest::bool::weighted(0.4),
            (proptest::bool::weighted(0.2), proptest::bool::weighted(0.15)),
        )
            .prop_map(
                |((item, qty, at, ship), extra, discount, transfer, gift_card, (late, cancelled))| {
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
                    }
                }
            ),
        5 => (any::<u8>(), any::<u8>(), 1u8..=3)
            .prop_map(|(store, item, qty)| Act::Sale { store, item, qty }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(sale, restock)| Act::Return { sale, restock }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(order, quick)| Act::Cancel { order, quick }),
        2 => any::<u8>().prop_map(|order| Act::Pickup { order }),
        1 => any::<u8>().prop_map(|order| Act::Fulfil { order }),
        2 => (
            (any::<u8>(), any::<u8>(), 1u8..=5, any::<bool>()),
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.3),
        )
            .prop_map(|((item, at, qty, quick), late, sold)| Act::Adjust {
                item,
                at,
                qty,
                quick,
                late,
                sold,
            }),
        1 => (any::<u8>(), any::<u8>(), 1u8..=5)
            .prop_map(|(item, store, qty)| Act::Receive { item, store, qty }),
        2 => (
            any::<u8>(),
            any::<u8>(),
            prop_oneof![1 => Just(0u8), 2 => 0u8..=6],
            proptest::bool::weighted(0.3),
        )
            .prop_map(|(item, store, qty, quick)| Act::Count { item, store, qty, quick }),
        1 => (any::<u8>(), any::<u8>(), any::<bool>(), proptest::bool::weighted(0.3)).prop_map(
            |(order, line, restock, answer_lost)| Act::OrderReturn {
                order,
                line,
                restock,
                answer_lost,
            }
        ),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(order, store)| Act::Refund { order, store }),
        1 => any::<u8>().prop_map(|order| Act::NoShow { order }),
        1 => (
            any::<u8>(),
            100u32..=9_999,
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.3),
            proptest::option::weighted(0.3, 100u32..=9_999),
        )
            .prop_map(|(item, cents, quick, late, corrected)| Act::Price {
                item,
                cents,
                quick,
                late,
                corrected,
            }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(order, line)| Act::Shorten { order, line }),
        1 => (any::<u8>(), any::<bool>())
            .prop_map(|(order, full)| Act::DashboardRefund { order, full }),
        1 => (
            any::<u8>(),
            100u32..=9_999,
            proptest::bool::weighted(0.3),
            proptest::option::weighted(0.3, 100u32..=9_999),
        )
            .prop_map(|(item, cents, answer_lost, contested)| Act::PosPrice {
                item,
                cents,
                answer_lost,
                contested,
            }),
        1 => any::<u8>().prop_map(|item| Act::Tax { item }),
        1 => (
            0u8..4,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            proptest::bool::weighted(0.3),
        )
            .prop_map(|(person, pos, capitals, phone, accepts_marketing, both)| {
                Act::Signup {
                    person,
                    pos,
                    capitals,
                    phone,
                    accepts_marketing,
                    both,
                }
            }),
        1 => (any::<u8>(), 5u8..=50, 30u8..=240)
            .prop_map(|(item, percent, minutes)| Act::Promote { item, percent, minutes }),
        1 => (any::<u8>(), 1u8..=10)
            .prop_map(|(promotion, minutes)| Act::EndPromotion { promotion, minutes }),
        1 => any::<u8>().prop_map(|store| Act::GiftCard { store }),
        1 => (any::<u8>(), any::<bool>(), any::<bool>()).prop_map(
            |(person, other, accepts_marketing)| Act::Consent {
                person,
                other,
                accepts_marketing,
            }
        ),
    ]
    .boxed()
}

fn fault_act() -> BoxedStrategy<Act> {
    prop_oneof![
        4 => (0u8..3, fault_kind(), 1u8..=10)
            .prop_map(|(target, kind, minutes)| Act::Fault { target, kind, minutes }),
        2 => prop_oneof![3 => 5u16..=60, 1 => 61u16..=240]
            .prop_map(|downtime_secs| Act::Crash { downtime_secs }),
        1 => any::<bool>().prop_map(|applied| Act::CrashMidWrite { applied }),
        1 => (0u8..3, 5u16..=45).prop_map(|(target, secs)| Act::Partition { target, secs }),
        1 => (0u8..3, 1u8..=30).prop_map(|(target, minutes)| Act::Rotate { target, minutes }),
        1 => (0u8..3, any::<bool>()).prop_map(|(target, forged)| Act::Replay { target, forged }),
        1 => (0u8..3, -120i16..=120, 1u8..=20)
            .prop_map(|(target, secs, minutes)| Act::Skew { target, secs, minutes }),
    ]
    .boxed()
}

/// Steps are at least this far apart: close enough that a polling connector
/// is caught out, far enough that a correct one has synced in between (a last
/// unit sold on both channels within the same second is an oversell no
/// connector can prevent, not a finding).
pub const MIN_GAP_SECS: u32 = 90;

/// The day is this long per possible step (50 steps: 75 minutes), so that
/// steps crowd each other and the fault windows. Idle time finds nothing and
/// is not free: a connector that reconciles every minute makes three feed
/// reads per simulated minute, which in a three-hour day of 23 steps were
/// three quarters of all exchanges.
pub const DAY_SECS_PER_STEP: u32 = 90;

fn step(shape: Shape) -> BoxedStrategy<StepPlan> {
    let act = match shape.faults {
        FaultProfile::Random => prop_oneof![9 => business_act(), 1 => fault_act()].boxed(),
        FaultProfile::None | FaultProfile::Heavy => business_act(),
    };
    let span = u32::try_from(shape.max_steps.max(1))
        .unwrap_or(u32::MAX / 240)
        .saturating_mul(DAY_SECS_PER_STEP);
    (0..=span, act)
        .prop_map(|(at_secs, act)| StepPlan { at_secs, act })
        .boxed()
}

/// The proptest strategy for whole plans of the given shape.
pub fn plan(shape: Shape) -> impl Strategy<Value = Plan> {
    let item = (
        100u32..=9_999,
        [0u8..=6, 0u8..=6, 0u8..=10],
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(price_cents, stock, web_only)| ItemPlan {
            price_cents,
            stock,
            web_only,
        });
    (
        (
            1u8..=2,
            any::<bool>(),
            proptest::bool::weighted(0.2),
            proptest::bool::weighted(0.25),
        ),
        proptest::collection::vec(item, 1..=shape.max_skus.max(1)),
        proptest::collection::vec(step(shape), 1..=shape.max_steps.max(1)),
    )
        .prop_map(
            |((stores, warehouse, pos_masters_price, taxed), items, steps)| Plan {
                stores,
                warehouse,
                pos_masters_price,
                taxed,
                items,
                steps,
            },
        )
}
