"""A careful connector on the official clients only: it must PASS level 1.

Built on `squareup` (`from square import Square`) for the register and
`ShopifyAPI` (its GraphQL, `shopify.GraphQL()`) for the shop, and the
standard library. Nothing in it is omnisim's: it reads the credentials and
addresses each `omnisim certify --via` mode gives (the same names a real
deployment would configure), and serves its webhook receiver and `/healthz`
on 127.0.0.1:$OMNISIM_CONNECTOR_PORT, as the connector contract asks.

- `--via intercept`: the real hosts (`connect.squareup.com`,
  `$SHOPIFY_SHOP_DOMAIN`); HTTPS_PROXY and the CA variables do the rest.
- `--via base-url`: SQUARE_BASE_URL and SHOPIFY_SHOP_URL.

How it keeps stock in step, by differences only:

- Register -> shop. Square's change history
  (`inventory/changes/batch-retrieve`, polled from a time cursor) is
  replayed per SKU and store: each ADJUSTMENT moves IN_STOCK by its
  quantity, each PHYSICAL_COUNT sets it (its effect is the count less the
  replayed level). Changes Square records as this app's own (`source.
  application_id`, learnt from the answers to its own writes) are echoes and
  are skipped, and so are moves into or out of RESERVED_FOR_SALE (an online
  order's units, which the shop already counts). What is left is written to
  the shop as `inventoryAdjustQuantities` deltas under `@idempotent(key:)`.
- Shop -> register. Shopify records no author on a stock level, so the
  connector accounts for what it knows: a level's `on_hand` moves by staff
  adjustments, by this app's own deltas (it made them) and by fulfilments
  (units leaving with an order, read from the orders). Orders and cancels
  move units between `available` and `committed` and leave `on_hand` alone.
  So staff changes = on_hand moved - own deltas + fulfilled units. The
  levels are read before and after the orders, and used only when both
  reads agree (no fulfilment slipped in between). Staff changes go to
  Square as ADJUSTMENTs with an `idempotency_key`.
- Online orders at a store (orders polled with `updated_at:>`) become
  Square orders with a PICKUP fulfillment and the Shopify order id in
  `reference_id`: Square sets their units aside (RESERVED_FOR_SALE). A
  fulfilment collected at the register (COMPLETED) fulfils the Shopify
  order (`fulfillmentCreate`); a Shopify order fulfilled or cancelled
  completes or cancels the Square fulfillment.
- Webhooks are registered through each platform's own subscription API and
  verified with each platform's own scheme (Square's `verify_signature`
  helper; Shopify's base64 HMAC-SHA256 of the body with the app secret, as
  Shopify documents it: the Python client has no helper for it). A
  delivery only wakes the loop: everything is read back from the
  platforms, so duplicates and drops do no harm.

State is kept in memory (level 1 never restarts a connector).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import shopify
from square import Square
from square.core.api_error import ApiError
from square.environment import SquareEnvironment
from square.utils.webhooks_helper import verify_signature

PORT = int(os.environ["OMNISIM_CONNECTOR_PORT"])
SCALE = float(os.environ.get("OMNISIM_TIME_SCALE", "1"))
PUBLIC = os.environ.get("OMNISIM_PUBLIC_URL", f"http://127.0.0.1:{PORT}")
# A business minute between full reconciliations, at most half a second.
EVERY = min(0.5, 60.0 / SCALE)

SQUARE_HOOK = PUBLIC + "/webhooks/square"
SHOPIFY_HOOK = PUBLIC + "/webhooks/shopify"
SHOPIFY_SECRET = os.environ.get("SHOPIFY_API_SECRET", "")


def log(*args):
    print(*args, flush=True)


def now_iso(ahead=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ahead)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# ---- clients ---------------------------------------------------------------

square = Square(token=os.environ["SQUARE_ACCESS_TOKEN"], timeout=20,
                **({"base_url": os.environ["SQUARE_BASE_URL"]} if os.environ.get("SQUARE_BASE_URL")
                   else {"environment": SquareEnvironment.PRODUCTION}))

_version, _token = os.environ["SHOPIFY_API_VERSION"], os.environ["SHOPIFY_ACCESS_TOKEN"]
if os.environ.get("SHOPIFY_SHOP_URL"):
    # A Session always builds https://<name>.myshopify.com; a base URL is
    # set on the resource class instead (the client's documented site).
    shopify.ShopifyResource.site = f"{os.environ['SHOPIFY_SHOP_URL']}/admin/api/{_version}"
    shopify.ShopifyResource.version = _version
    shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = _token
else:
    shopify.ShopifyResource.activate_session(
        shopify.Session(os.environ["SHOPIFY_SHOP_DOMAIN"], _version, _token))


def gql(document, variables=None):
    """One GraphQL call, retried while Shopify throttles or the call fails."""
    for attempt in range(20):
        try:
            answer = json.loads(shopify.GraphQL().execute(document, variables))
        except (urllib.error.URLError, OSError) as e:
            log(f"shopify: {e}; retrying")
            time.sleep(0.2)
            continue
        errors = answer.get("errors") or []
        if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
            time.sleep(0.5)
            continue
        if errors:
            raise RuntimeError(f"shopify: {errors}")
        return answer["data"]
    raise RuntimeError("shopify: gave up after 20 attempts")


VARIANTS = """query Variants($after: String) {
  productVariants(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { sku inventoryItem { id } }
  }
}"""
LOCATIONS = "query { locations(first: 50) { nodes { id name } } }"
LEVELS = """query Levels($after: String) {
  productVariants(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { sku inventoryItem { inventoryLevels(first: 50) {
      nodes { location { id } quantities(names: ["available", "on_hand"]) { name quantity } } } } }
  }
}"""
ORDERS = """query Orders($q: String, $after: String) {
  orders(first: 50, after: $after, query: $q, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id updatedAt cancelledAt displayFulfillmentStatus
      lineItems(first: 50) { nodes { sku quantity unfulfilledQuantity } }
      fulfillmentOrders(first: 10) { nodes { id status assignedLocation { location { id } } } }
    }
  }
}"""
ADJUST = """mutation Adjust($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}"""
FULFIL = """mutation Fulfil($fulfillment: FulfillmentInput!, $key: String!) {
  fulfillmentCreate(fulfillment: $fulfillment) @idempotent(key: $key) {
    fulfillment { id status }
    userErrors { field message }
  }
}"""
PAYMENT = """query Payment($id: ID!) {
  order(id: $id) {
    capturable
    totalCapturableSet { shopMoney { amount currencyCode } }
    transactions(first: 20) { id kind status }
  }
}"""
CAPTURE = """mutation Capture($input: OrderCaptureInput!, $key: String!) {
  orderCapture(input: $input) @idempotent(key: $key) {
    transaction { id kind status }
    userErrors { field message }
  }
}"""
SUBSCRIBE = """mutation Subscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id }
    userErrors { field message }
  }
}"""


def pages(document, key, variables=None):
    after = None
    while True:
        data = gql(document, dict(variables or {}, after=after))[key]
        yield from data["nodes"]
        if not data["pageInfo"]["hasNextPage"]:
            return
        after = data["pageInfo"]["endCursor"]


def square_call(fn, *args, **kwargs):
    """A Square call, retried on 429 and 5xx (same idempotency key)."""
    for attempt in range(20):
        try:
            return fn(*args, **kwargs)
        except ApiError as e:
            if e.status_code in (429, 500, 502, 503, 504):
                time.sleep(0.3)
                continue
            raise
        except OSError as e:
            log(f"square: {e}; retrying")
            time.sleep(0.3)
    raise RuntimeError("square: gave up after 20 attempts")


# ---- the merchant's mapping -------------------------------------------------

class World:
    """What the connector learnt at start and keeps in step."""

    def __init__(self):
        self.var_of_sku = {}       # Square variation id by SKU
        self.sku_of_var = {}
        self.item_of_sku = {}      # Shopify inventory item id by SKU
        self.store_of_shop_loc = {}  # Square location id by Shopify location id
        self.shop_loc_of_store = {}
        self.keys = []             # (sku, store) listed on both
        # Register -> shop.
        self.pos_level = {}        # replayed IN_STOCK
        self.pos_others = {}       # what others' changes moved IN_STOCK by, in all
        self.pos_mirrored = {}     # what of it the shop has been told
        self.seen_changes = set()
        self.changes_after = None
        self.my_app = None         # Square's application_id of this app
        self.my_changes = set()
        # Shop -> register.
        self.on_hand0 = {}
        self.shop_own = {}         # this app's deltas on the shop, in all
        self.shop_mirrored = {}    # staff changes told to the register, in all
        self.orders = {}           # Shopify order id -> its latest node
        self.orders_after = None
        # Pickups: Shopify order id -> [Square order id, fulfillment uid, state].
        self.pickups = {}
        self.fulfilled_on_shop = set()
        self.captured = set()


W = World()


def setup():
    for v in pages(VARIANTS, "productVariants"):
        if v["sku"]:
            W.item_of_sku[v["sku"]] = v["inventoryItem"]["id"]
    for obj in square_call(square.catalog.list, types="ITEM_VARIATION"):
        data = obj.item_variation_data
        if data is not None and data.sku:
            W.var_of_sku[data.sku] = obj.id
            W.sku_of_var[obj.id] = data.sku
    square_locations = {loc.name: loc.id for loc in square_call(square.locations.list).locations or []}
    for loc in gql(LOCATIONS)["locations"]["nodes"]:
        store = square_locations.get(loc["name"])
        if store is not None:
            W.store_of_shop_loc[loc["id"]] = store
            W.shop_loc_of_store[store] = loc["id"]
    W.keys = [(sku, store) for sku in sorted(W.item_of_sku) if sku in W.var_of_sku
              for store in sorted(W.shop_loc_of_store)]
    # Webhooks, through each platform's own subscription API.
    sub = square_call(
        square.webhooks.subscriptions.create,
        idempotency_key=f"sdk-careful-{PORT}",
        subscription={"name": "sdk careful connector", "notification_url": SQUARE_HOOK,
                      "event_types": ["inventory.count.updated", "order.updated",
                                      "order.fulfillment.updated"]},
    ).subscription
    HOOKS["square_key"] = sub.signature_key
    for topic in ["INVENTORY_LEVELS_UPDATE", "ORDERS_CREATE", "ORDERS_UPDATED",
                  "ORDERS_FULFILLED", "ORDERS_CANCELLED"]:
        out = gql(SUBSCRIBE, {"topic": topic, "sub": {"callbackUrl": SHOPIFY_HOOK, "format": "JSON"}})
        errors = out["webhookSubscriptionCreate"]["userErrors"]
        if errors:
            raise RuntimeError(f"shopify subscription {topic}: {errors}")
    # Baselines: the merchant's set-up is not ours to replay.
    start = datetime.datetime.now(datetime.timezone.utc)
    W.changes_after = start
    W.orders_after = start
    for change in square_call(square.inventory.batch_get_changes,
                              location_ids=sorted(W.shop_loc_of_store)):
        W.seen_changes.add(change_of(change)[0])
    counts = {(W.sku_of_var.get(c.catalog_object_id), c.location_id): int(c.quantity)
              for c in square_call(square.inventory.batch_get_counts,
                                   location_ids=sorted(W.shop_loc_of_store))
              if c.state == "IN_STOCK"}
    levels = read_levels()
    for k in W.keys:
        W.pos_level[k] = counts.get(k, 0)
        W.pos_others[k] = W.pos_mirrored[k] = 0
        W.on_hand0[k] = levels.get(k, {}).get("on_hand", 0)
        W.shop_own[k] = W.shop_mirrored[k] = 0
    log(f"ready: {len(W.keys)} SKU x store pairs; stores {sorted(W.shop_loc_of_store)}")


# ---- register -> shop -------------------------------------------------------

def change_of(change):
    """(id, kind, detail) of a Square InventoryChange."""
    if change.type == "PHYSICAL_COUNT":
        return change.physical_count.id, "count", change.physical_count
    return change.adjustment.id, "adjust", change.adjustment


def is_mine(cid, detail):
    source = detail.source
    return cid in W.my_changes or (
        W.my_app is not None and source is not None and source.application_id == W.my_app)


def pull_register():
    fresh = []
    for change in square_call(square.inventory.batch_get_changes,
                              location_ids=sorted(W.shop_loc_of_store),
                              updated_after=since(W.changes_after)):
        cid, kind, detail = change_of(change)
        if cid in W.seen_changes:
            continue
        W.seen_changes.add(cid)
        fresh.append((parse_time(detail.occurred_at), cid, kind, detail))
        if detail.created_at:
            W.changes_after = max(W.changes_after, parse_time(detail.created_at))
    for _, cid, kind, d in sorted(fresh, key=lambda f: (f[0], f[1])):
        k = (W.sku_of_var.get(d.catalog_object_id), d.location_id)
        if k not in W.pos_level:
            continue
        quantity = int(d.quantity)
        if kind == "count":
            effect = quantity - W.pos_level[k]
            W.pos_level[k] = quantity
            pickup = False
        else:
            effect = (quantity if d.to_state == "IN_STOCK" else 0) - \
                     (quantity if d.from_state == "IN_STOCK" else 0)
            W.pos_level[k] += effect
            pickup = "RESERVED_FOR_SALE" in (d.from_state, d.to_state)
        if is_mine(cid, d) or pickup or effect == 0:
            continue
        W.pos_others[k] += effect


def parse_time(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def since(t):
    """A time cursor as Square and Shopify read it, two seconds early: the
    platforms' stamps and ours are not one clock, and a re-read is free
    (changes and orders are deduplicated)."""
    t -= datetime.timedelta(seconds=2)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def push_to_shop():
    for k in W.keys:
        delta = W.pos_others[k] - W.pos_mirrored[k]
        if delta == 0:
            continue
        sku, store = k
        key = f"pos2shop-{sku}-{store}-{W.pos_mirrored[k]}-{W.pos_others[k]}"
        out = gql(ADJUST, {"key": key, "input": {
            "name": "available", "reason": "correction",
            "changes": [{"inventoryItemId": W.item_of_sku[sku],
                         "locationId": W.shop_loc_of_store[store], "delta": delta}]}})
        errors = out["inventoryAdjustQuantities"]["userErrors"]
        if errors:
            log(f"shop adjust {sku}@{store} {delta:+}: {errors}")
            continue
        W.pos_mirrored[k] += delta
        W.shop_own[k] += delta
        log(f"register -> shop {sku}@{store} {delta:+}")


# ---- shop -> register -------------------------------------------------------

def read_levels():
    levels = {}
    for v in pages(LEVELS, "productVariants"):
        for lvl in v["inventoryItem"]["inventoryLevels"]["nodes"]:
            store = W.store_of_shop_loc.get(lvl["location"]["id"])
            if store is not None:
                levels[(v["sku"], store)] = {q["name"]: q["quantity"] for q in lvl["quantities"]}
    return levels


def pull_orders():
    for o in pages(ORDERS, "orders", {"q": f"updated_at:>'{since(W.orders_after)}'"}):
        W.orders[o["id"]] = o
        W.orders_after = max(W.orders_after, parse_time(o["updatedAt"]))


def fulfilled_units():
    """Units handed over from each store: every line's quantity less what is
    still unfulfilled, at the location its fulfillment order is assigned to
    (whoever fulfilled it: staff in the admin, or this app)."""
    out = {}
    for o in W.orders.values():
        store = store_of(o)
        if store is None:
            continue
        for line in o["lineItems"]["nodes"]:
            k = (line["sku"], store)
            out[k] = out.get(k, 0) + line["quantity"] - line["unfulfilledQuantity"]
    return out


def push_to_register():
    before = read_levels()
    pull_orders()
    after = read_levels()
    if before != after:
        return  # something moved while the orders were read: next round
    fulfilled = fulfilled_units()
    for k in W.keys:
        on_hand = after.get(k, {}).get("on_hand", 0)
        staff = on_hand - W.on_hand0[k] - W.shop_own[k] + fulfilled.get(k, 0)
        delta = staff - W.shop_mirrored[k]
        if delta == 0:
            continue
        sku, store = k
        key = f"shop2pos-{sku}-{store}-{W.shop_mirrored[k]}-{staff}"
        states = ("NONE", "IN_STOCK") if delta > 0 else ("IN_STOCK", "NONE")
        out = square_call(square.inventory.batch_create_changes, idempotency_key=key, changes=[{
            "type": "ADJUSTMENT",
            "adjustment": {"catalog_object_id": W.var_of_sku[sku], "location_id": store,
                           "from_state": states[0], "to_state": states[1],
                           "quantity": str(abs(delta)), "occurred_at": now_iso(-0.05)}}])
        for change in out.changes or []:
            cid, _, detail = change_of(change)
            W.my_changes.add(cid)
            if detail.source is not None and detail.source.application_id:
                W.my_app = detail.source.application_id
        W.shop_mirrored[k] += delta
        log(f"shop -> register {sku}@{store} {delta:+}")


# ---- pickups ----------------------------------------------------------------

def store_of(order):
    for fo in order["fulfillmentOrders"]["nodes"]:
        loc = ((fo.get("assignedLocation") or {}).get("location") or {}).get("id")
        if loc in W.store_of_shop_loc:
            return W.store_of_shop_loc[loc]
    return None


def set_fulfillment(gid, state):
    sq_id, uid, have = W.pickups[gid]
    if have in ("COMPLETED", "CANCELED") or have == state:
        return
    current = square_call(square.orders.get, order_id=sq_id).order
    f = (current.fulfillments or [None])[0]
    if current.state != "OPEN" or f is None or f.state in ("COMPLETED", "CANCELED"):
        W.pickups[gid][2] = f.state if f is not None else current.state
        return
    out = square_call(square.orders.update, order_id=sq_id,
                      idempotency_key=f"pickup-{state.lower()}-{sq_id}",
                      order={"location_id": current.location_id, "version": current.version,
                             "fulfillments": [{"uid": uid, "state": state}]})
    W.pickups[gid][2] = out.order.fulfillments[0].state
    log(f"pickup {gid} -> {state}")


def sync_pickups():
    for gid, o in W.orders.items():
        store = store_of(o)
        if store is None:
            continue
        if gid not in W.pickups:
            if o["cancelledAt"]:
                continue
            lines = [{"catalog_object_id": W.var_of_sku[line["sku"]], "quantity": str(line["quantity"])}
                     for line in o["lineItems"]["nodes"] if line["sku"] in W.var_of_sku]
            if not lines:
                continue
            made = square_call(square.orders.create, idempotency_key=f"pickup-{gid}", order={
                "location_id": store, "reference_id": gid, "line_items": lines,
                "fulfillments": [{"type": "PICKUP", "state": "PROPOSED",
                                  "pickup_details": {"schedule_type": "ASAP",
                                                     "recipient": {"display_name": gid}}}]}).order
            W.pickups[gid] = [made.id, made.fulfillments[0].uid, made.fulfillments[0].state]
            log(f"pickup {gid}: square order {made.id} at {store}")
        if o["cancelledAt"]:
            set_fulfillment(gid, "CANCELED")
        elif o["displayFulfillmentStatus"] == "FULFILLED" and gid not in W.fulfilled_on_shop:
            set_fulfillment(gid, "COMPLETED")
    # Goods that left (fulfilled by staff, or collected): capture.
    for gid, o in W.orders.items():
        if o["displayFulfillmentStatus"] == "FULFILLED" and not o["cancelledAt"] and gid not in W.captured:
            capture(gid)
            W.captured.add(gid)
    # Collected at the register: fulfil the Shopify order.
    open_ids = [v[0] for g, v in W.pickups.items() if g not in W.fulfilled_on_shop]
    if not open_ids:
        return
    by_id = {o.id: o for o in square_call(square.orders.batch_get, order_ids=open_ids).orders or []}
    for gid, entry in W.pickups.items():
        o = by_id.get(entry[0])
        if o is None or gid in W.fulfilled_on_shop:
            continue
        state = o.fulfillments[0].state if o.fulfillments else o.state
        entry[2] = state
        shop = W.orders.get(gid)
        if state != "COMPLETED" or shop is None:
            continue
        if shop["displayFulfillmentStatus"] == "FULFILLED":
            W.fulfilled_on_shop.add(gid)
            continue
        open_fos = [fo["id"] for fo in shop["fulfillmentOrders"]["nodes"] if fo["status"] != "CLOSED"]
        for fo in open_fos:
            out = gql(FULFIL, {"key": f"fulfil-{fo}", "fulfillment": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo}]}})
            errors = out["fulfillmentCreate"]["userErrors"]
            if errors:
                log(f"fulfil {gid}: {errors}")
        capture(gid)
        W.captured.add(gid)
        W.fulfilled_on_shop.add(gid)
        log(f"collected at the register: fulfilled {gid}")


def capture(gid):
    """The goods left: capture what the order's authorization still holds.
    Money is a decimal string, passed on as Shopify gave it."""
    o = gql(PAYMENT, {"id": gid})["order"]
    if not o or not o["capturable"]:
        return
    money = o["totalCapturableSet"]["shopMoney"]
    for t in o["transactions"]:
        if t["kind"] == "AUTHORIZATION" and t["status"] == "SUCCESS":
            out = gql(CAPTURE, {"key": f"capture-{t['id']}", "input": {
                "id": gid, "parentTransactionId": t["id"],
                "amount": money["amount"], "currency": money["currencyCode"]}})
            errors = out["orderCapture"]["userErrors"]
            log(f"captured {money['amount']} {money['currencyCode']} for {gid}" if not errors
                else f"capture {gid}: {errors}")
            return


# ---- the loop and the receiver ----------------------------------------------

HOOKS = {"square_key": None, "seen": set()}
WAKE = threading.Event()
READY = threading.Event()


def loop():
    while True:
        WAKE.wait(EVERY)
        WAKE.clear()
        try:
            pull_register()
            push_to_shop()
            push_to_register()
            sync_pickups()
        except Exception as e:  # keep syncing; the next round re-reads everything
            log(f"round failed: {type(e).__name__}: {e}")
            time.sleep(0.2)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/healthz" and READY.is_set() else (503 if self.path == "/healthz" else 404)
        self.send_response(code)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/webhooks/square":
            key = HOOKS["square_key"]
            ok = key is not None and verify_signature(
                request_body=body.decode("utf-8", "replace"),
                signature_header=self.headers.get("x-square-hmacsha256-signature", ""),
                signature_key=key, notification_url=SQUARE_HOOK)
            event_id = self.headers.get("x-square-event-id") or hashlib.sha256(body).hexdigest()
        elif self.path == "/webhooks/shopify":
            mac = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()).decode()
            ok = bool(SHOPIFY_SECRET) and hmac.compare_digest(mac, self.headers.get("X-Shopify-Hmac-Sha256", ""))
            event_id = self.headers.get("X-Shopify-Webhook-Id", "")
        else:
            self.send_response(404)
            self.end_headers()
            return
        if not ok:
            self.send_response(401)
            self.end_headers()
            return
        if event_id not in HOOKS["seen"]:
            if not any(seen.startswith(self.path) for seen in HOOKS["seen"]):
                log(f"first verified delivery on {self.path}")
            HOOKS["seen"].add(event_id)
            HOOKS["seen"].add(self.path + " verified")
            WAKE.set()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        setup()
    except Exception as e:
        print(f"setup failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    READY.set()
    loop()


if __name__ == "__main__":
    main()
