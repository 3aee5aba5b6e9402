//! The reference sync engine: a connector that keeps a merchant's POS, shop and
//! payment gateway consistent.
//!
//! It reaches the platforms only through [`omnisim_api`]: the `Transport`, the
//! typed clients, signed webhooks and the change feeds. It must never depend on
//! `omnisim-simulators`; anything it does, a vendor's connector in any language
//! can do. Its strategies (webhook or poll, adjust or set or compare-and-set,
//! an online buffer, reserve on order or on capture) arrive with the engine
//! issue; this crate holds only its purpose until then.
