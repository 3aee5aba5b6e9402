"""The official Stripe client (stripe-python, pinned) against omnisim's Stripe
dialect: a connector's calls, the declines, idempotent replay, list paging,
events, a signed webhook accepted by stripe.Webhook.construct_event, and a
retry under an injected 5xx that applies once.

Uses only the `stripe` package and the standard library. Environment:
OMNISIM_STRIPE_API_BASE, OMNISIM_STRIPE_API_KEY (the dialect), OMNISIM_PAY_URL
and OMNISIM_API_KEY (the native pay API, for /_control). Exits non-zero on the
first mismatch, printing what failed.
"""

import http.server
import json
import os
import queue
import sys
import threading
import urllib.request

import stripe

stripe.api_key = os.environ["OMNISIM_STRIPE_API_KEY"]
stripe.api_base = os.environ["OMNISIM_STRIPE_API_BASE"]
PAY = os.environ["OMNISIM_PAY_URL"]
NATIVE_KEY = os.environ["OMNISIM_API_KEY"]

checks = 0


def check(what, got, want):
    global checks
    checks += 1
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}")
        sys.exit(1)


def native(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        PAY + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {NATIVE_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def raises(cls, f):
    try:
        f()
    except cls as e:
        return e
    print(f"FAIL expected {cls.__name__}")
    sys.exit(1)


native("POST", "/_control/reset")

# --- a manual-capture payment, step by step -----------------------------------
pi = stripe.PaymentIntent.create(
    amount=2000,
    currency="usd",
    payment_method="pm_card_visa",
    payment_method_types=["card"],
    confirm=True,
    capture_method="manual",
    metadata={"order_id": "1001"},
    description="order 1001",
    idempotency_key="order-1001",
)
check("create object", pi.object, "payment_intent")
check("create status", pi.status, "requires_capture")
check("create amounts", (pi.amount, pi.amount_capturable, pi.amount_received), (2000, 2000, 0))
check("create currency", pi.currency, "usd")
check("create metadata", pi.metadata.to_dict(), {"order_id": "1001"})
check("create livemode", pi.livemode, False)
check("create created is unix", isinstance(pi.created, int), True)
check("payment_method id", pi.payment_method.startswith("pm_"), True)
check("request id", pi.last_response.headers["Request-Id"].startswith("req_"), True)

replay = stripe.PaymentIntent.create(
    amount=2000,
    currency="usd",
    payment_method="pm_card_visa",
    payment_method_types=["card"],
    confirm=True,
    capture_method="manual",
    metadata={"order_id": "1001"},
    description="order 1001",
    idempotency_key="order-1001",
)
check("replay same id", replay.id, pi.id)
check("replay header", replay.last_response.headers.get("Idempotent-Replayed"), "true")
e = raises(
    stripe.IdempotencyError,
    lambda: stripe.PaymentIntent.create(amount=999, currency="usd", idempotency_key="order-1001"),
)
check("idempotency error status", e.http_status, 400)

got = stripe.PaymentIntent.retrieve(pi.id, expand=["latest_charge"])
check("retrieve status", got.status, "requires_capture")
check("latest_charge expanded", got.latest_charge.object, "charge")
check("charge uncaptured", (got.latest_charge.captured, got.latest_charge.status), (False, "succeeded"))
check("charge card", got.latest_charge.payment_method_details.card.brand, "visa")

captured = stripe.PaymentIntent.capture(pi.id, amount_to_capture=1500)
check("capture status", captured.status, "succeeded")
check("capture amounts", (captured.amount_received, captured.amount_capturable), (1500, 0))
e = raises(stripe.InvalidRequestError, lambda: stripe.PaymentIntent.capture(pi.id))
check("capture twice", (e.http_status, e.code), (400, "payment_intent_unexpected_state"))

charge = stripe.Charge.retrieve(captured.latest_charge)
check("charge captured", (charge.captured, charge.amount_captured), (True, 1500))

refund = stripe.Refund.create(payment_intent=pi.id, amount=500, reason="requested_by_customer")
check("refund", (refund.object, refund.status, refund.amount, refund.charge), ("refund", "succeeded", 500, charge.id))
check("refund retrieve", stripe.Refund.retrieve(refund.id).payment_intent, pi.id)
e = raises(stripe.InvalidRequestError, lambda: stripe.Refund.create(payment_intent=pi.id, amount=5000))
check("refund too large", (e.http_status, e.code), (400, "amount_too_large"))
refunds = stripe.Refund.list(payment_intent=pi.id)
check("refunds by intent", [r.id for r in refunds.data], [refund.id])
check("list envelope", (refunds.object, refunds.url, refunds.has_more), ("list", "/v1/refunds", False))

# --- create, confirm, cancel ---------------------------------------------------
other = stripe.PaymentIntent.create(amount=1000, currency="usd", capture_method="manual")
check("no method", (other.status, other.payment_method), ("requires_payment_method", None))
other = stripe.PaymentIntent.modify(other.id, payment_method="pm_card_mastercard", metadata={"k": "v"})
check("attached", other.status, "requires_confirmation")
other = stripe.PaymentIntent.confirm(other.id)
check("confirmed", other.status, "requires_capture")
other = stripe.PaymentIntent.cancel(other.id, cancellation_reason="abandoned")
check("canceled", (other.status, other.cancellation_reason, other.amount_capturable), ("canceled", "abandoned", 0))
e = raises(stripe.InvalidRequestError, lambda: stripe.PaymentIntent.confirm(other.id))
check("confirm canceled", e.code, "payment_intent_unexpected_state")

# --- declines ------------------------------------------------------------------
for pm, code, decline in [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card"),
    ("pm_card_chargeDeclinedStolenCard", "card_declined", "stolen_card"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
    ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error"),
]:
    e = raises(
        stripe.CardError,
        lambda: stripe.PaymentIntent.create(amount=1000, currency="usd", payment_method=pm, confirm=True),
    )
    check(f"{pm} status", e.http_status, 402)
    check(f"{pm} code", (e.code, e.error.decline_code), (code, decline))
    check(f"{pm} intent", e.error.payment_intent.status, "requires_payment_method")
    failed = stripe.Charge.retrieve(e.error.charge)
    check(f"{pm} charge", (failed.status, failed.failure_code), ("failed", code))
action = stripe.PaymentIntent.create(
    amount=1000, currency="usd", payment_method="pm_card_authenticationRequired", confirm=True
)
check("3ds", (action.status, action.next_action.type), ("requires_action", "use_stripe_sdk"))
e = raises(stripe.InvalidRequestError, lambda: stripe.PaymentIntent.create(amount=10, currency="usd"))
check("amount too small", (e.http_status, e.code, e.param), (400, "amount_too_small", "amount"))
e = raises(stripe.InvalidRequestError, lambda: stripe.PaymentIntent.retrieve("pi_nope"))
check("missing", (e.http_status, e.code), (404, "resource_missing"))
e = raises(stripe.InvalidRequestError, lambda: stripe.PaymentIntent.create(amount=1000, currency="usd", colour="red"))
check("unknown param", (e.code, e.param), ("parameter_unknown", "colour"))

# --- lists and paging ----------------------------------------------------------
all_ids = [p.id for p in stripe.PaymentIntent.list(limit=3).auto_paging_iter()]
count = len(all_ids)
check("paging sees every intent once", len(set(all_ids)), count)
check("newest first", all_ids, sorted(all_ids, reverse=True))
first = stripe.PaymentIntent.list(limit=2)
check("has_more", first.has_more, True)
back = stripe.PaymentIntent.list(limit=2, ending_before=all_ids[3])
check("ending_before", [p.id for p in back.data], all_ids[1:3])
recent = stripe.PaymentIntent.list(created={"gte": pi.created}, limit=100)
check("created filter", len(recent.data), count)
none = stripe.PaymentIntent.list(created={"lt": pi.created}, limit=100)
check("created filter empty", len(none.data), 0)

# --- events --------------------------------------------------------------------
succeeded = stripe.Event.list(type="payment_intent.succeeded")
check("events by type", [e.data.object.id for e in succeeded.data], [pi.id])
ev = stripe.Event.retrieve(succeeded.data[0].id)
check("event", (ev.object, ev.type, ev.livemode, ev.data.object.object), ("event", "payment_intent.succeeded", False, "payment_intent"))
charges = stripe.Event.list(types=["charge.captured", "charge.refunded"])
check("events by types", sorted(e.type for e in charges.data), ["charge.captured", "charge.refunded"])
failed = [e.type for e in stripe.Event.list(type="charge.*", limit=100).auto_paging_iter() if e.type == "charge.failed"]
check("charge.failed per decline", len(failed), 7)
check("refund.created", len(stripe.Event.list(type="refund.created").data), 1)

# --- a webhook endpoint and a signed delivery ----------------------------------
received = queue.Queue()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received.put((body, self.headers["Stripe-Signature"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}/stripe"
we = stripe.WebhookEndpoint.create(url=url, enabled_events=["payment_intent.succeeded"], description="connector")
check("endpoint", (we.object, we.status, we.enabled_events), ("webhook_endpoint", "enabled", ["payment_intent.succeeded"]))
check("secret once", we.secret.startswith("whsec_"), True)
check("retrieve hides secret", getattr(stripe.WebhookEndpoint.retrieve(we.id), "secret", None), None)
check("endpoints listed", [w.id for w in stripe.WebhookEndpoint.list().data], [we.id])
paid = stripe.PaymentIntent.create(amount=1234, currency="usd", payment_method="pm_card_visa", confirm=True)
body, signature = received.get(timeout=20)
event = stripe.Webhook.construct_event(body, signature, we.secret)
check("webhook event", (event.type, event.data.object.id, event.data.object.amount), ("payment_intent.succeeded", paid.id, 1234))
e = raises(stripe.SignatureVerificationError, lambda: stripe.Webhook.construct_event(body, signature, "whsec_wrong"))
check("deleted", stripe.WebhookEndpoint.delete(we.id).deleted, True)
server.shutdown()

# --- an injected 5xx, retried by the client, applied once ----------------------
statuses = []


class Recording(stripe.RequestsClient):
    def request(self, method, url, headers, post_data=None):
        out = super().request(method, url, headers, post_data)
        statuses.append(out[1])
        return out


stripe.default_http_client = Recording()
stripe.max_network_retries = 10
native("POST", "/_control/faults", {"error_rate": 0.5})
made = []
for n in range(6):
    made.append(
        stripe.PaymentIntent.create(
            amount=1000, currency="usd", payment_method="pm_card_visa", confirm=True, metadata={"retry": str(n)}
        ).id
    )
native("POST", "/_control/faults", {})
check("some requests met a 503", 503 in statuses, True)
check("every request ended 200", statuses.count(200), 6)
applied = [p for p in stripe.PaymentIntent.list(limit=100).auto_paging_iter() if "retry" in p.metadata]
check("applied once each", sorted(p.metadata["retry"] for p in applied), [str(n) for n in range(6)])
check("the ids the client got", sorted(p.id for p in applied), sorted(made))

# --- auth ----------------------------------------------------------------------
e = raises(stripe.AuthenticationError, lambda: stripe.PaymentIntent.list(api_key="sk_live_123"))
check("live key refused", e.http_status, 401)

print(f"stripe suite: {checks} checks passed")
