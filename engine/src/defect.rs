//! Deliberate failure modes, for testing the tests only.
//!
//! Each [`Defect`] turns on one bug that real connectors ship, as a small
//! change at the exact spot of the default path where a connector gets it
//! wrong (an `if engine.has(Defect::…)` in `sync.rs` or `engine.rs`), never as
//! a strategy of its own. The shipped scenarios must fail on every one of
//! them, and `omnisim explore` must find every one; `harness/tests/defects.rs`
//! holds both to it. They are hidden from the documented configuration: a
//! scenario may name them only when it is tagged `defect`, and the CLI takes
//! them through hidden `--defect` flags.

use std::fmt;
use std::str::FromStr;

macro_rules! defects {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $what:literal; )*) => {
        /// One deliberate failure mode (see the module docs).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Defect {
            $( $(#[$doc])* $variant, )*
        }

        impl Defect {
            /// Every failure mode, in a fixed order.
            pub const ALL: &'static [Defect] = &[$(Defect::$variant),*];

            /// The name the flags and scenario files take (kebab-case).
            pub fn name(self) -> &'static str {
                match self { $(Defect::$variant => $name,)* }
            }

            /// What goes wrong, in a merchant's words.
            pub fn what(self) -> &'static str {
                match self { $(Defect::$variant => $what,)* }
            }
        }
    };
}

defects! {
    /// A POS stock change is written to the shop as the POS's absolute count
    /// (lost update). Failure mode 1.
    AbsoluteSet = "absolute-set",
        "a store stock change is written to the shop as an absolute count, over concurrent changes";
    /// A change that leaves the POS at zero sets the shop to zero, whatever
    /// happened on the shop meanwhile. Failure mode 2.
    ZeroWipes = "zero-wipes",
        "a zero on the register (a recount or the last unit sold) is pushed as an absolute zero";
    /// A staff change on the shop reaches the POS as a count of the shop's
    /// on-hand (which includes units committed to open orders) instead of
    /// the change in available. Failure mode 3.
    OnHandSynced = "on-hand-synced",
        "the shop's on-hand (units held for open orders included) is synced as sellable stock";
    /// Orders are imported at once but their store units are reserved only
    /// by the next reconciliation pass. Failure mode 4.
    ReserveLag = "reserve-lag",
        "an imported online order's units are reserved only at the next batch pass";
    /// All lines of an online refund go back to the register in one batch;
    /// one refused line aborts the batch, and the error names no item.
    /// Failure mode 5.
    BulkAborts = "bulk-aborts",
        "one refused line aborts a whole bulk stock write, and the error names no item";
    /// The receiver checks for a duplicate, then awaits, then records the
    /// id; the worker trusts it, and writes carry per-write keys. Failure
    /// mode 6.
    DedupeRace = "dedupe-race",
        "two copies of a webhook delivered at once both get past the deduplicator";
    /// Order events are applied from the event's own copy, in arrival order,
    /// instead of the order as it is now. Failure mode 7.
    ArrivalOrder = "arrival-order",
        "order webhooks are applied in arrival order, from their stale copies";
    /// Product events are applied from the event's own copy (an older price
    /// arriving after a newer one wins). Failure mode 7.
    StaleProduct = "stale-product",
        "a product webhook's stale copy overwrites a newer price or tax code";
    /// The refund of a store return gets a fresh idempotency key per HTTP
    /// attempt, so a timed-out refund that did go through is made twice.
    /// Failure mode 8.
    RetryNewKey = "retry-new-key",
        "a retried refund gets a new idempotency key, so one return is refunded twice";
    /// The cursor jumps to the latest webhook's seq, skipping dropped ones:
    /// reconciliation never reads them. Failure mode 9.
    CursorSkipsGaps = "cursor-skips-gaps",
        "the feed cursor jumps past dropped webhooks, so reconciliation never repairs them";
    /// A webhook whose signature does not verify is logged and applied.
    /// Failure mode 10.
    BadSignatureApplied = "bad-signature-applied",
        "a webhook with a bad signature is logged and applied";
    /// A correctly signed webhook is accepted however old its timestamp.
    /// Failure mode 10.
    StaleSignatureAccepted = "stale-signature-accepted",
        "a correctly signed webhook with a stale timestamp (a replay) is accepted";
    /// The connector's own writes coming back as change events are applied
    /// again. Failure mode 11.
    EchoApplied = "echo-applied",
        "the connector's own writes come back as changes and are applied again (echo loop)";
    /// A physical count is pushed to the shop as the counted quantity (an
    /// absolute value) instead of the difference it makes. Failure mode 12.
    CountAbsolute = "count-absolute",
        "a recount is pushed to the shop as an absolute value instead of the difference it makes";
    /// A store return's lines are matched to the order's lines by position,
    /// not by SKU: the refund is off by one line.
    RefundWrongLine = "refund-wrong-line",
        "a partial store return of an online order refunds the wrong line";
    /// A store return is refunded for the whole order line instead of the
    /// returned units.
    RefundWholeLine = "refund-whole-line",
        "a store return of some units refunds the whole order line";
    /// Goods returned online to a store (restock `return`) never reach that
    /// store's register.
    ReturnRestockIgnored = "return-restock-ignored",
        "goods returned online to a store never reach that store's register";
    /// A pickup the clerk closes as a no-show at the register is cancelled
    /// in the connector's books only: the online order stays open with its
    /// authorization.
    CancelKeepsAuthorization = "cancel-keeps-authorization",
        "a no-show closed at the register leaves the online order open and its authorization unvoided";
    /// A cancelled order that was never paid (a no-show) keeps its units
    /// set aside at the store: the release waits for a refund that never comes.
    NoShowNotReleased = "no-show-not-released",
        "a no-show's units stay set aside at the store after its order is cancelled";
    /// Every store's stock is written to the first store's level on the shop.
    WrongLocation = "wrong-location",
        "store stock changes are written to the wrong location on the shop";
    /// Idempotency keys are scoped to the process, so an event applied just
    /// before a crash (its cursor not committed) applies again after it.
    CrashReapplies = "crash-reapplies",
        "an event applied just before a crash, its cursor not yet committed, is applied again after the restart";
    /// An event is marked done and committed before it is applied: a crash
    /// or a refused call in between loses it.
    CommitBeforeApply = "commit-before-apply",
        "an event is committed as done before it is applied, so a failure in between loses it";
    /// Stock writes carry no idempotency key, so a retry after a timeout
    /// applies twice.
    NoIdempotencyKey = "no-idempotency-key",
        "stock writes are retried without an idempotency key, so a timed-out write applies twice";
    /// A fulfilled order is captured for its original total, which the shop
    /// refuses once a line was refunded before capture: nothing is collected.
    CaptureOriginalTotal = "capture-original-total",
        "a handed-over order is captured for its original total after a line was dropped, and nothing is collected";
    /// A line dropped from a pickup order is released from the oldest pickup
    /// of that SKU at the store, not from its own order's.
    ReleaseOldestPickup = "release-oldest-pickup",
        "a line dropped from one pickup order is released from another order's pickup";
    /// A line dropped from a pickup order is released at the store by a
    /// stock adjustment only: the pickup slip keeps listing the units the
    /// customer no longer takes.
    PickupNotShortened = "pickup-not-shortened",
        "a shortened pickup order's units are released but its pickup slip still lists them";
    /// A refund made in the gateway's dashboard is never recorded on its
    /// order: the shop keeps claiming money the gateway gave back.
    ExternalRefundIgnored = "external-refund-ignored",
        "a refund made in the gateway's dashboard never reaches its online order";
    /// The merchant's catalog mastership is ignored: a change on either side
    /// travels to the other, so an edit on the non-master side overwrites
    /// the master.
    MastershipIgnored = "mastership-ignored",
        "a price edited on the side that does not own it overwrites the owner's price";
    /// A payment that failed after the shop already recorded it (a failed
    /// bank transfer) leaves its order open with its stock committed.
    FailedPaymentKept = "failed-payment-kept",
        "an order whose payment failed stays open, its stock still committed";
    /// A tax code removed on the shop is sent to the POS as "unchanged".
    TaxClearDropped = "tax-clear-dropped",
        "a tax code removed on the shop is never removed on the register";
    /// Customer profiles are matched by email exactly as written, so
    /// `Ada@Example.com` at the register is not `ada@example.com` online.
    CustomerEmailCase = "customer-email-case",
        "customer emails are matched case-sensitively, so one person's two signups are never merged";
    /// Marketing consent is left out of the customer sync: a customer who
    /// withdraws it in store keeps getting the shop's emails.
    ConsentNotSynced = "consent-not-synced",
        "a customer's marketing consent changed on one side never reaches the other";
    /// A promotion is copied to the register once, and a later edit of its
    /// end never follows: one ended early online keeps running in store.
    PromotionEndNotSynced = "promotion-end-not-synced",
        "a promotion ended early online keeps running at the register: an edit of its end is never copied";
    /// A store return of an online order paid by gift card is written on
    /// the order as refunded (a transaction, as if the register had paid
    /// it back) instead of being refunded through the shop: nothing goes
    /// back onto the card.
    GiftCardRefundRecordedOnly = "gift-card-refund-recorded-only",
        "an online order paid by gift card and returned in store is marked refunded, but nothing goes back onto the card";
    /// A price or tax write whose answer was lost is sent again as it was,
    /// without reading the record back: a change made there meanwhile is
    /// overwritten with the older value.
    BlindWriteRetry = "blind-write-retry",
        "a price write whose answer was lost is sent again blindly, undoing a change made meanwhile";
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A defect name that does not exist.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a defect")]
pub struct UnknownDefect(pub String);

impl FromStr for Defect {
    type Err = UnknownDefect;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Defect::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDefect(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names = std::collections::BTreeSet::new();
        for d in Defect::ALL {
            assert_eq!(d.name().parse::<Defect>(), Ok(*d));
            assert!(names.insert(d.name()), "{d} twice");
            assert!(!d.what().is_empty());
        }
        assert!("no-such".parse::<Defect>().is_err());
    }
}
