"""The official Square client (squareup, pinned) against omnisim's Square
dialect: locations; a catalog batch-upsert with temporary ids; search by SKU;
a physical count then an IN_STOCK -> SOLD adjustment; counts read back as
strings; changes since a time; an order paid with a card nonce,
autocomplete=false, completed, then refunded in part; a declined nonce; the
same idempotency key with another body; a webhook subscription whose
inventory.count.updated delivery passes the client's verify_signature;
customer profiles (made, searched by email and phone, updated at their
version) and their customer.created and customer.updated deliveries; PICKUP
orders (units set aside, collected at the register, cancelled by an update);
and the POS's promotions as catalog pricing rules (read, made, pricing a
register sale, ended early, refused fields, deleted); and the gateway's gift
cards through the Gift Cards API (by GAN, by id, listed, their activities),
and a card sold outside Square made PENDING and activated with an ACTIVATE
activity, then spent at the register.

The client builds its answers without validating them, so every raw answer is
also parsed by the client's own typed models with validation on (pydantic
`model_validate`): a quantity must be a string, money an integer, and so on.

Uses only the `square` package (and httpx and pydantic, which it brings) and
the standard library. Environment: OMNISIM_SQUARE_BASE_URL and
OMNISIM_SQUARE_TOKEN (the dialect), OMNISIM_POS_URL and OMNISIM_API_KEY (the
native POS API, for /_control). Exits non-zero on the first mismatch,
printing what failed.
"""

import datetime
import decimal
import http.server
import json
import os
import queue
import sys
import threading
import time
import urllib.request
import uuid

import httpx
from square import Square
from square.core.api_error import ApiError
from square.types.batch_get_inventory_changes_response import BatchGetInventoryChangesResponse
from square.types.batch_get_inventory_counts_response import BatchGetInventoryCountsResponse
from square.types.get_inventory_count_response import GetInventoryCountResponse
from square.types.customer_created_event import CustomerCreatedEvent
from square.types.customer_updated_event import CustomerUpdatedEvent
from square.types.inventory_count_updated_event import InventoryCountUpdatedEvent
from square.types.list_gift_card_activities_response import ListGiftCardActivitiesResponse
from square.types.list_gift_cards_response import ListGiftCardsResponse
from square.types.list_payments_response import ListPaymentsResponse
from square.types.list_webhook_subscriptions_response import ListWebhookSubscriptionsResponse
from square.utils.webhooks_helper import verify_signature

BASE = os.environ["OMNISIM_SQUARE_BASE_URL"]
TOKEN = os.environ["OMNISIM_SQUARE_TOKEN"]
POS = os.environ["OMNISIM_POS_URL"]
NATIVE_KEY = os.environ["OMNISIM_API_KEY"]

checks = 0
last = {}


def keep(response):
    response.read()
    last["status"] = response.status_code
    last["headers"] = dict(response.headers)
    try:
        last["json"] = response.json()
    except ValueError:
        last["json"] = None


client = Square(
    token=TOKEN,
    base_url=BASE,
    httpx_client=httpx.Client(timeout=30, event_hooks={"response": [keep]}),
)


def check(what, got, want):
    global checks
    checks += 1
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}")
        sys.exit(1)


def typed(answer):
    """The last raw answer, validated by the client's model of `answer`."""
    global checks
    checks += 1
    try:
        type(answer).model_validate(last["json"])
    except Exception as e:  # noqa: BLE001 - report any validation failure
        print(f"FAIL {type(answer).__name__} does not validate {last['json']!r}: {e}")
        sys.exit(1)
    return answer


def typed_as(model):
    """The last raw answer (a page), validated by the client's `model`."""
    global checks
    checks += 1
    try:
        model.model_validate(last["json"])
    except Exception as e:  # noqa: BLE001 - report any validation failure
        print(f"FAIL {model.__name__} does not validate {last['json']!r}: {e}")
        sys.exit(1)


def raises(f):
    try:
        f()
    except ApiError as e:
        return e
    print("FAIL expected an ApiError")
    sys.exit(1)


def native(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        POS + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {NATIVE_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def key():
    return str(uuid.uuid4())


def stamp(seconds_ago):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


native("POST", "/_control/reset")

# Locations.
locations = typed(client.locations.list())
location = locations.locations[0].id
check("location", location, "store-1")
check("Square-Version echoed", last["headers"].get("square-version"), "2026-09-16")
check("one location", typed(client.locations.get(location_id=location)).location.id, location)

# A catalog batch-upsert with temporary ids.
up = typed(
    client.catalog.batch_upsert(
        idempotency_key=key(),
        batches=[
            {
                "objects": [
                    {
                        "type": "ITEM",
                        "id": "#mug",
                        "item_data": {
                            "name": "Mug",
                            "variations": [
                                {
                                    "type": "ITEM_VARIATION",
                                    "id": "#mug-red",
                                    "item_variation_data": {
                                        "item_id": "#mug",
                                        "name": "Red",
                                        "sku": "MUG-RED",
                                        "pricing_type": "FIXED_PRICING",
                                        "price_money": {"amount": 1250, "currency": "USD"},
                                    },
                                }
                            ],
                        },
                    }
                ]
            }
        ],
    )
)
ids = {m.client_object_id: m.object_id for m in up.id_mappings}
check("temporary ids answered", sorted(ids), ["#mug", "#mug-red"])
variation = ids["#mug-red"]
check("ITEM id", up.objects[0].id, ids["#mug"])
check("nested variation", up.objects[0].item_data.variations[0].id, variation)
native_item = native("GET", "/v1/items/MUG-RED")
check("the POS sees the variation's SKU and price", native_item["price"], "12.50")

# Search by SKU.
found = typed(
    client.catalog.search(
        object_types=["ITEM_VARIATION"],
        query={"exact_query": {"attribute_name": "sku", "attribute_value": "MUG-RED"}},
    )
)
check("search by SKU", [o.id for o in found.objects], [variation])
check("price in minor units", found.objects[0].item_variation_data.price_money.amount, 1250)
got = typed(client.catalog.object.get(object_id=variation))
check("retrieve object", got.object.item_variation_data.sku, "MUG-RED")

# A physical count, then an IN_STOCK -> SOLD adjustment.
before = stamp(5)
time.sleep(0.01)
counted = typed(
    client.inventory.batch_create_changes(
        idempotency_key=key(),
        changes=[
            {
                "type": "PHYSICAL_COUNT",
                "physical_count": {
                    "catalog_object_id": variation,
                    "location_id": location,
                    "state": "IN_STOCK",
                    "quantity": "100",
                    "occurred_at": stamp(2),
                },
            }
        ],
    )
)
check("count answered as a string", counted.counts[0].quantity, "100")
sold_key = key()
sold_changes = [
    {
        "type": "ADJUSTMENT",
        "adjustment": {
            "catalog_object_id": variation,
            "location_id": location,
            "from_state": "IN_STOCK",
            "to_state": "SOLD",
            "quantity": "3",
            "occurred_at": stamp(1),
        },
    }
]
sold = typed(client.inventory.batch_create_changes(idempotency_key=sold_key, changes=sold_changes))
check("adjusted", sold.counts[0].quantity, "97")
again = typed(client.inventory.batch_create_changes(idempotency_key=sold_key, changes=sold_changes))
check("the same key replays, applied once", again.counts[0].quantity, "97")
sold_changes[0]["adjustment"]["quantity"] = "4"
reused = raises(
    lambda: client.inventory.batch_create_changes(idempotency_key=sold_key, changes=sold_changes)
)
check("same key, other body", reused.errors[0].code, "IDEMPOTENCY_KEY_REUSED")
check("native count", native("GET", "/v1/inventory/MUG-RED?location=store-1")["quantity"], 97)

# Counts read back as strings.
counts = list(client.inventory.batch_get_counts(catalog_object_ids=[variation], location_ids=[location]))
typed_as(BatchGetInventoryCountsResponse)
check("counts", [(c.catalog_object_id, c.state, c.quantity) for c in counts], [(variation, "IN_STOCK", "97")])
one = list(client.inventory.get(catalog_object_id=variation, location_ids=location))
typed_as(GetInventoryCountResponse)
check("one count", [c.quantity for c in one], ["97"])

# Changes since a time.
changes = list(client.inventory.batch_get_changes(catalog_object_ids=[variation], updated_after=before))
typed_as(BatchGetInventoryChangesResponse)
check("changes since", [c.type for c in changes], ["PHYSICAL_COUNT", "ADJUSTMENT"])
check("adjustment states", (changes[1].adjustment.from_state, changes[1].adjustment.to_state), ("IN_STOCK", "SOLD"))
check("adjustment quantity", changes[1].adjustment.quantity, "3")
later = list(client.inventory.batch_get_changes(updated_after=stamp(-60)))
check("nothing after now", later, [])

# An order paid with a card nonce, autocomplete=false, completed, refunded in part.
order = typed(
    client.orders.create(
        idempotency_key=key(),
        order={"location_id": location, "line_items": [{"catalog_object_id": variation, "quantity": "2"}]},
    )
).order
check("order open", order.state, "OPEN")
check("order total", order.total_money.amount, 2500)
payment = typed(
    client.payments.create(
        source_id="cnon:card-nonce-ok",
        idempotency_key=key(),
        amount_money={"amount": 2500, "currency": "USD"},
        autocomplete=False,
        order_id=order.id,
        location_id=location,
    )
).payment
check("autocomplete=false", payment.status, "APPROVED")
check("card authorized", payment.card_details.status, "AUTHORIZED")
completed = typed(client.payments.complete(payment_id=payment.id)).payment
check("completed", completed.status, "COMPLETED")
paid = typed(client.orders.get(order_id=order.id)).order
check("order completed", paid.state, "COMPLETED")
check("order tender", paid.tenders[0].payment_id, payment.id)
check("sold at the POS", native("GET", "/v1/inventory/MUG-RED?location=store-1")["quantity"], 95)
refund = typed(
    client.refunds.refund_payment(
        idempotency_key=key(),
        amount_money={"amount": 1000, "currency": "USD"},
        payment_id=payment.id,
        reason="one mug chipped",
    )
).refund
check("refund", (refund.status, refund.amount_money.amount), ("COMPLETED", 1000))
check("refund read back", typed(client.refunds.get(refund_id=refund.id)).refund.id, refund.id)
after = typed(client.payments.get(payment_id=payment.id)).payment
check("refunded in part", after.refunded_money.amount, 1000)
check("refund ids", after.refund_ids, [refund.id])
searched = typed(
    client.orders.search(
        location_ids=[location], query={"filter": {"state_filter": {"states": ["COMPLETED"]}}}
    )
)
check("search orders", [o.id for o in searched.orders], [order.id])
listed = list(client.payments.list())
typed_as(ListPaymentsResponse)
check("list payments", [p.id for p in listed], [payment.id])

# A declined nonce.
declined = raises(
    lambda: client.payments.create(
        source_id="cnon:card-nonce-declined",
        idempotency_key=key(),
        amount_money={"amount": 100, "currency": "USD"},
    )
)
check("decline", (declined.status_code, declined.errors[0].code), (402, "GENERIC_DECLINE"))
check("decline category", declined.errors[0].category, "PAYMENT_METHOD_ERROR")

# A webhook subscription; its inventory.count.updated delivery verifies.
deliveries = queue.Queue()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        deliveries.put((dict((k.lower(), v) for k, v in self.headers.items()), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/square"
sub = typed(
    client.webhooks.subscriptions.create(
        idempotency_key=key(),
        subscription={
            "name": "stock",
            "event_types": ["inventory.count.updated"],
            "notification_url": url,
        },
    )
).subscription
signature_key = sub.signature_key
check("subscription", (sub.notification_url, sub.enabled), (url, True))
subs = list(client.webhooks.subscriptions.list())
typed_as(ListWebhookSubscriptionsResponse)
check("listed without the key", [(s.id, s.signature_key) for s in subs], [(sub.id, None)])
client.inventory.batch_create_changes(
    idempotency_key=key(),
    changes=[
        {
            "type": "ADJUSTMENT",
            "adjustment": {
                "catalog_object_id": variation,
                "location_id": location,
                "from_state": "IN_STOCK",
                "to_state": "WASTE",
                "quantity": "1",
                "occurred_at": stamp(0),
            },
        }
    ],
)
headers, body = deliveries.get(timeout=30)
check(
    "verify_signature",
    verify_signature(
        request_body=body.decode(),
        signature_header=headers["x-square-hmacsha256-signature"],
        signature_key=signature_key,
        notification_url=url,
    ),
    True,
)
check(
    "a wrong key does not verify",
    verify_signature(
        request_body=body.decode(),
        signature_header=headers["x-square-hmacsha256-signature"],
        signature_key="not-the-key",
        notification_url=url,
    ),
    False,
)
event = InventoryCountUpdatedEvent.model_validate(json.loads(body))
check("event type", event.type, "inventory.count.updated")
count = event.data.object.inventory_counts[0]
check("event count", (count.catalog_object_id, count.quantity), (variation, "94"))
client.webhooks.subscriptions.delete(subscription_id=sub.id)
check("deleted", list(client.webhooks.subscriptions.list()), [])

# Customers: a profile made through the client, found by its email in
# another case and by its phone in another format, updated at the version
# read (a stale version refused), and its customer.created and
# customer.updated deliveries, which verify and parse as the client's own
# event models; consent given at the register (natively) arrives as
# customer.updated too.
people = typed(
    client.webhooks.subscriptions.create(
        idempotency_key=key(),
        subscription={
            "name": "people",
            "event_types": ["customer.created", "customer.updated"],
            "notification_url": url,
        },
    )
).subscription


def delivery(kind):
    """The next delivery of event type `kind`, verified with `people`'s key."""
    while True:
        headers, body = deliveries.get(timeout=30)
        if json.loads(body)["type"] != kind:
            continue
        check(
            f"{kind} verify_signature",
            verify_signature(
                request_body=body.decode(),
                signature_header=headers["x-square-hmacsha256-signature"],
                signature_key=people.signature_key,
                notification_url=url,
            ),
            True,
        )
        return json.loads(body)


ada = typed(
    client.customers.create(
        idempotency_key=key(),
        given_name="Ada",
        family_name="Lovelace",
        email_address="Ada@Example.com",
        phone_number="+44 20 7946 0000",
    )
).customer
check(
    "customer made",
    (ada.given_name, ada.family_name, ada.email_address, ada.phone_number, ada.version),
    ("Ada", "Lovelace", "Ada@Example.com", "+44 20 7946 0000", 1),
)
check("no marketing consent until given", ada.preferences.email_unsubscribed, True)
created = CustomerCreatedEvent.model_validate(delivery("customer.created"))
check("customer.created", (created.data.id, created.data.object.customer.email_address), (ada.id, "Ada@Example.com"))
by_email = typed(client.customers.search(query={"filter": {"email_address": {"exact": "ada@example.com"}}}))
check("found by email in another case", [c.id for c in by_email.customers], [ada.id])
by_phone = typed(client.customers.search(query={"filter": {"phone_number": {"exact": "+442079460000"}}}))
check("found by phone in another format", [c.id for c in by_phone.customers], [ada.id])
nobody = typed(client.customers.search(query={"filter": {"email_address": {"exact": "grace@example.com"}}}))
check("nobody", nobody.customers, None)
moved = typed(client.customers.update(customer_id=ada.id, phone_number="+44 20 7946 0999", version=ada.version)).customer
check("updated at its version", (moved.phone_number, moved.version), ("+44 20 7946 0999", 2))
stale = raises(lambda: client.customers.update(customer_id=ada.id, family_name="Byron", version=ada.version))
check("a stale version refused", (stale.status_code, stale.errors[0].code), (400, "VERSION_MISMATCH"))
updated = CustomerUpdatedEvent.model_validate(delivery("customer.updated"))
check("customer.updated", (updated.data.id, updated.data.object.customer.phone_number), (ada.id, "+44 20 7946 0999"))
missing = raises(lambda: client.customers.get(customer_id="cust_999999"))
check("an unknown customer", (missing.status_code, missing.errors[0].code), (404, "NOT_FOUND"))
native("PATCH", f"/v1/customers/{ada.id}", {"accepts_marketing": True})
consent = CustomerUpdatedEvent.model_validate(delivery("customer.updated"))
check("consent given at the register", consent.data.object.customer.preferences.email_unsubscribed, False)
check("read back", typed(client.customers.get(customer_id=ada.id)).customer.version, 3)
client.webhooks.subscriptions.delete(subscription_id=people.id)
server.shutdown()

# An online order waiting at the store: a PICKUP order sets its units aside
# (the native pickup of the shop order its reference_id names) and follows
# the register.
before = native("GET", "/v1/inventory/MUG-RED?location=store-1")["quantity"]
pickup = typed(
    client.orders.create(
        idempotency_key=key(),
        order={
            "location_id": location,
            "reference_id": "gid://shopify/Order/41",
            "line_items": [{"catalog_object_id": variation, "quantity": "2"}],
            "fulfillments": [{"type": "PICKUP", "state": "PROPOSED",
                              "pickup_details": {"recipient": {"display_name": "Ana"}, "schedule_type": "ASAP"}}],
        },
    )
).order
check("pickup order", (pickup.state, pickup.fulfillments[0].type, pickup.fulfillments[0].state),
      ("OPEN", "PICKUP", "PROPOSED"))
check("units set aside", native("GET", "/v1/inventory/MUG-RED?location=store-1")["quantity"], before - 2)
check("native pickup", native("GET", "/v1/pickups/ord_000041")["status"], "ready")
native("POST", "/v1/pickups/ord_000041/complete", {})
collected = typed(client.orders.get(order_id=pickup.id)).order
check("collected at the register", (collected.state, collected.fulfillments[0].state), ("COMPLETED", "COMPLETED"))
other = typed(
    client.orders.create(
        idempotency_key=key(),
        order={"location_id": location, "reference_id": "ord_000042",
               "line_items": [{"catalog_object_id": variation, "quantity": "1"}],
               "fulfillments": [{"type": "PICKUP"}]},
    )
).order
cancelled = typed(
    client.orders.update(
        order_id=other.id,
        idempotency_key=key(),
        order={"location_id": location, "version": other.version,
               "fulfillments": [{"uid": other.fulfillments[0].uid, "state": "CANCELED"}]},
    )
).order
check("cancelled", (cancelled.state, cancelled.fulfillments[0].state), ("CANCELED", "CANCELED"))
check("released", native("GET", "/v1/inventory/MUG-RED?location=store-1")["quantity"], before - 2)

# Promotions: the POS's automatic promotions are catalog pricing (a
# PRICING_RULE naming a DISCOUNT and a PRODUCT_SET). One made at the POS reads
# back through the catalog; one made through Square prices the register's
# sales, ends early through an upsert at its version, and is deleted.
native("POST", "/v1/promotions", {"title": "Register ten", "kind": "percentage", "value": "10", "skus": ["MUG-RED"]})
rules = typed(client.catalog.search(object_types=["PRICING_RULE"]))
check("the native promotion is a pricing rule", [o.pricing_rule_data.name for o in rules.objects], ["Register ten"])
ten = rules.objects[0]
ten_discount = typed(client.catalog.object.get(object_id=ten.pricing_rule_data.discount_id)).object
check("its discount", (ten_discount.discount_data.discount_type, ten_discount.discount_data.percentage),
      ("FIXED_PERCENTAGE", "10"))
ten_set = typed(client.catalog.object.get(object_id=ten.pricing_rule_data.match_products_id)).object
check("its product set", ten_set.product_set_data.product_ids_any, [variation])

today = datetime.datetime.now(datetime.timezone.utc).date()
made = typed(
    client.catalog.batch_upsert(
        idempotency_key=key(),
        batches=[{"objects": [
            {"type": "DISCOUNT", "id": "#quarter",
             "discount_data": {"name": "Quarter off", "discount_type": "FIXED_PERCENTAGE", "percentage": "25"}},
            {"type": "PRODUCT_SET", "id": "#mugs", "product_set_data": {"name": "Mugs", "product_ids_any": [variation]}},
            {"type": "PRICING_RULE", "id": "#quarter-rule",
             "pricing_rule_data": {"name": "Quarter off mugs", "discount_id": "#quarter", "match_products_id": "#mugs",
                                   "valid_from_date": today.isoformat(),
                                   "valid_until_date": (today + datetime.timedelta(days=7)).isoformat()}},
        ]}],
    )
)
pids = {m.client_object_id: m.object_id for m in made.id_mappings}
check("three temporary ids answered", sorted(pids), ["#mugs", "#quarter", "#quarter-rule"])
check("three objects", sorted(o.type for o in made.objects), ["DISCOUNT", "PRICING_RULE", "PRODUCT_SET"])
quarter = [p for p in native("GET", "/v1/promotions")["data"] if p["title"] == "Quarter off mugs"]
check("the POS keeps it", [(p["kind"], p["value"], p["skus"]) for p in quarter], [("percentage", "25", ["MUG-RED"])])
check("valid through its last day",
      quarter[0]["ends_at"], (today + datetime.timedelta(days=8)).isoformat() + "T00:00:00Z")


def ring_up_mug():
    return native("POST", "/v1/sales", {"location": "store-1", "lines": [{"sku": "MUG-RED", "quantity": 1}],
                                        "tenders": [{"type": "cash", "amount": "100.00"}]})


sale = ring_up_mug()
check("a register sale priced by it (25 % of 12.50, half to even)",
      (sale["promotion"], sale["lines"][0]["discount"]), (quarter[0]["id"], "3.12"))
as_order = typed(client.orders.get(order_id=sale["id"])).order
check("the sale as an order names the pricing rule",
      (as_order.total_discount_money.amount, as_order.discounts[0].pricing_rule_id), (312, pids["#quarter-rule"]))
online = typed(
    client.orders.create(
        idempotency_key=key(),
        order={"location_id": location, "line_items": [{"catalog_object_id": variation, "quantity": "2"}]},
    )
).order
check("an order made now is priced by it too",
      (online.line_items[0].total_discount_money.amount, online.discounts[0].catalog_object_id),
      (625, pids["#quarter"]))

rule = typed(client.catalog.object.get(object_id=pids["#quarter-rule"])).object
end = datetime.datetime.now(datetime.timezone.utc)
ended_data = {
    "name": rule.pricing_rule_data.name,
    "discount_id": rule.pricing_rule_data.discount_id,
    "match_products_id": rule.pricing_rule_data.match_products_id,
    "valid_from_date": rule.pricing_rule_data.valid_from_date,
    "valid_until_date": end.date().isoformat(),
    "valid_until_local_time": end.strftime("%H:%M:%S"),
}
ended = typed(
    client.catalog.object.upsert(
        idempotency_key=key(),
        object={"type": "PRICING_RULE", "id": rule.id, "version": rule.version, "pricing_rule_data": ended_data},
    )
).catalog_object
check("ended early", (ended.pricing_rule_data.valid_until_date, ended.pricing_rule_data.valid_until_local_time),
      (end.date().isoformat(), end.strftime("%H:%M:%S")))
check("its version moved", ended.version > rule.version, True)
stale = raises(
    lambda: client.catalog.object.upsert(
        idempotency_key=key(),
        object={"type": "PRICING_RULE", "id": rule.id, "version": rule.version, "pricing_rule_data": ended_data},
    )
)
check("a stale version refused", (stale.status_code, stale.errors[0].code), (400, "VERSION_MISMATCH"))
time.sleep(0.01)
sale = ring_up_mug()
check("once ended, the native ten percent prices the sale", (sale["promotion"], sale["lines"][0]["discount"]),
      ("prm_000001", "1.25"))

refused = raises(
    lambda: client.catalog.batch_upsert(
        idempotency_key=key(),
        batches=[{"objects": [
            {"type": "DISCOUNT", "id": "#d", "discount_data": {"discount_type": "FIXED_PERCENTAGE", "percentage": "5"}},
            {"type": "PRODUCT_SET", "id": "#s", "product_set_data": {"product_ids_any": [variation], "quantity_exact": 2}},
            {"type": "PRICING_RULE", "id": "#r",
             "pricing_rule_data": {"discount_id": "#d", "match_products_id": "#s", "time_period_ids": ["#weekends"]}},
        ]}],
    )
)
check("what a promotion cannot hold is refused, naming the field",
      (refused.status_code, refused.errors[0].code, refused.errors[0].field),
      (400, "INVALID_VALUE", "batches[0].objects[2].pricing_rule_data.time_period_ids"))
check("and nothing was made", len(native("GET", "/v1/promotions")["data"]), 2)

deleted = typed(client.catalog.object.delete(object_id=ten.id))
check("deleting the rule deletes its three objects", len(deleted.deleted_object_ids), 3)
check("the native promotion is disabled", native("GET", "/v1/promotions/prm_000001")["status"], "disabled")
sale = ring_up_mug()
check("no promotion prices the sale", sale["promotion"], None)
gone = raises(lambda: client.catalog.object.get(object_id=ten.id))
check("a deleted rule is not found", gone.status_code, 404)

# Gift cards, read through Square's Gift Cards API from the gateway: a card
# sold at the register and spent there reads with the gateway's balance, and
# its activities are what the gateway recorded.
native("POST", "/v1/sales", {"location": "store-1", "lines": [], "gift_cards": [{"code": "GC-SQ-1", "amount": "50.00"}],
                             "tenders": [{"type": "cash", "amount": "50.00"}]})
mug_total = ring_up_mug()["total"]
native("POST", "/v1/sales", {"location": "store-1", "lines": [{"sku": "MUG-RED", "quantity": 1}],
                                     "tenders": [{"type": "gift_card", "amount": mug_total, "code": "GC-SQ-1"}]})
by_gan = typed(client.gift_cards.get_from_gan(gan="GC-SQ-1")).gift_card
want_left = 5000 - int(decimal.Decimal(mug_total) * 100)
check("read by GAN with the gateway's balance", (by_gan.gan, by_gan.state, by_gan.balance_money.amount),
      ("GC-SQ-1", "ACTIVE", want_left))
by_id = typed(client.gift_cards.get(id=by_gan.id)).gift_card
check("read by id", (by_id.id, by_id.balance_money.amount), (by_gan.id, want_left))
check("listed", [c.gan for c in client.gift_cards.list()], ["GC-SQ-1"])
typed_as(ListGiftCardsResponse)
acts = list(client.gift_cards.activities.list(gift_card_id=by_gan.id, sort_order="ASC"))
typed_as(ListGiftCardActivitiesResponse)
check("its activities", [(a.type, a.gift_card_balance_money.amount) for a in acts],
      [("ACTIVATE", 5000), ("REDEEM", want_left)])
check("the redemption", (acts[1].redeem_activity_details.amount_money.amount, acts[1].redeem_activity_details.status),
      (5000 - want_left, "COMPLETED"))
unknown = raises(lambda: client.gift_cards.get_from_gan(gan="GC-NONE"))
check("an unknown GAN", (unknown.status_code, unknown.errors[0].code), (404, "NOT_FOUND"))

# A card sold outside Square (a web shop's), registered with its own GAN and
# activated with what paid for it: PENDING, then ACTIVE at the gateway.
made = client.gift_cards.create(idempotency_key=str(uuid.uuid4()), location_id="store-1",
                                gift_card={"type": "DIGITAL", "gan_source": "OTHER", "gan": "WEBGC00042"})
typed(made)
check("made pending", (made.gift_card.state, made.gift_card.gan, made.gift_card.balance_money.amount),
      ("PENDING", "WEBGC00042", 0))
generated = typed(client.gift_cards.create(idempotency_key=str(uuid.uuid4()), location_id="store-1",
                                           gift_card={"type": "DIGITAL"})).gift_card
check("a generated GAN", (len(generated.gan), generated.gan_source, generated.state), (16, "SQUARE", "PENDING"))
act = client.gift_cards.activities.create(
    idempotency_key=str(uuid.uuid4()),
    gift_card_activity={"type": "ACTIVATE", "location_id": "store-1", "gift_card_id": made.gift_card.id,
                        "activate_activity_details": {"amount_money": {"amount": 3500, "currency": "USD"},
                                                      "buyer_payment_instrument_ids": ["web-order-42"],
                                                      "reference_id": "web-42"}})
typed(act)
check("activated", (act.gift_card_activity.type, act.gift_card_activity.gift_card_balance_money.amount),
      ("ACTIVATE", 3500))
now = typed(client.gift_cards.get(id=made.gift_card.id)).gift_card
check("active with its balance", (now.state, now.balance_money.amount), ("ACTIVE", 3500))
native("POST", "/v1/sales", {"location": "store-1", "lines": [{"sku": "MUG-RED", "quantity": 1}],
                             "tenders": [{"type": "gift_card", "amount": mug_total, "code": "WEBGC00042"}]})
acts = list(client.gift_cards.activities.list(gift_card_id=made.gift_card.id, sort_order="ASC"))
check("activated, then redeemed at the register", [a.type for a in acts], ["ACTIVATE", "REDEEM"])
check("the activation's reference", acts[0].activate_activity_details.reference_id, "web-42")
again = raises(lambda: client.gift_cards.activities.create(
    idempotency_key=str(uuid.uuid4()),
    gift_card_activity={"type": "ACTIVATE", "location_id": "store-1", "gift_card_gan": "WEBGC00042",
                        "activate_activity_details": {"amount_money": {"amount": 100, "currency": "USD"},
                                                      "buyer_payment_instrument_ids": ["cash"]}}))
check("an active card is not activated again", (again.status_code, again.errors[0].field),
      (400, "gift_card_activity.gift_card_id"))

print(f"{checks} checks passed")
