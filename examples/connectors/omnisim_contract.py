"""The plumbing every example connector shares, written from
docs/connector-contract.md alone. Python 3, standard library only.

`Connector` does what the contract asks of every connector, whatever its
sync rules: it reads the OMNISIM_* variables, serves `/healthz` and a
webhook receiver on OMNISIM_CONNECTOR_PORT, registers webhooks on the POS,
the shop and the gateway (reusing them after a restart), verifies every
delivery (401 and no effect when it does not verify), takes each feed's
cursor at its end on a fresh start, reads the change feeds every business
minute, deduplicates by event id, keeps all of that durably in
OMNISIM_STATE_DIR, recognises its own writes by the event's `actor` (never
by a `reference`), retries 429 (honouring Retry-After), 5xx and timeouts
with the same Idempotency-Key, and keeps online orders set aside at their
store (POS pickups), completed and captured when the goods leave.

Subclasses decide how a stock change travels, which is where connectors
differ: `pos_stock_changed` (a register change, to the shop) and
`shop_stock_changed` (a shop admin change, to the POS).
"""

import base64
import hashlib
import hmac
import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLATFORMS = ("pos", "shop", "pay")
# Stock causes on the POS that are an online order's units (set aside,
# released, handed over): the shop already counts them through the order.
ORDER_KINDS_POS = ("reserve", "release", "fulfillment")
# Stock causes on the shop that orders make: they travel as POS pickups.
ORDER_KINDS_SHOP = ("order", "cancel", "refund", "fulfillment")


class ApiError(Exception):
    """A platform's 4xx answer (or a retry budget spent)."""

    def __init__(self, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        err = self.body.get("error") or {}
        self.code = err.get("code")
        super().__init__(f"HTTP {status} {self.code}: {err.get('message')}")


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def now_stamp(back_ms=250):
    """Now, minus a little, as RFC 3339 (POS writes may not be in the future)."""
    t = datetime.now(timezone.utc) - timedelta(milliseconds=back_ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Connector:
    """Subclass and override `pos_stock_changed` and `shop_stock_changed`."""

    name = "example"
    # Apply every event once (by id). The double-apply example turns it off.
    dedupe = True
    # Send an Idempotency-Key derived from the cause on every POST.
    idempotency = True

    def __init__(self):
        env = os.environ
        self.urls = {
            "pos": env["OMNISIM_POS_URL"].rstrip("/"),
            "shop": env["OMNISIM_SHOP_URL"].rstrip("/"),
            "pay": env["OMNISIM_PAY_URL"].rstrip("/"),
        }
        self.key = env["OMNISIM_API_KEY"]
        self.port = int(env["OMNISIM_CONNECTOR_PORT"])
        self.state_dir = env.get("OMNISIM_STATE_DIR") or "."
        self.scale = float(env.get("OMNISIM_TIME_SCALE") or "1")
        # Who we are on the platforms: the label events carry in `actor.id`
        # for our key (section 6 of the contract).
        self.me = "app:" + hashlib.sha256(self.key.encode()).hexdigest()[:8]
        self.lock = threading.RLock()  # serialises every application
        self.inbox = queue.Queue()
        self.ready = False
        self.state_file = os.path.join(self.state_dir, f"{self.name}-state.json")
        self.state = {"subs": {}, "cursors": {}, "seen": [], "orders": {}}
        if os.path.exists(self.state_file):
            with open(self.state_file) as f:
                self.state.update(json.load(f))
        self.seen = set(self.state["seen"])
        self.stores = set()  # POS locations that the shop has too
        self.skus = set()  # SKUs on both the POS and the shop

    # ---- durable state -------------------------------------------------

    def save(self):
        self.state["seen"] = sorted(self.seen)
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_file)

    # ---- HTTP ------------------------------------------------------------

    def call(self, platform, method, path, body=None, key=None, attempts=8):
        """One call, retried on 429 / 5xx / timeouts with the same key."""
        url = self.urls[platform] + path
        data = None if body is None else json.dumps(body).encode()
        wait = 0.2
        for attempt in range(attempts):
            req = urllib.request.Request(url, data=data, method=method)
            req.add_header("Authorization", "Bearer " + self.key)
            if data is not None:
                req.add_header("Content-Type", "application/json")
            if key and self.idempotency and method == "POST":
                req.add_header("Idempotency-Key", key[:255])
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    raw = r.read()
                    if method == "POST":
                        print(f"{platform} {method} {path} {json.dumps(body)} -> {r.status}",
                              flush=True)
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as e:
                raw = e.read()
                try:
                    answer = json.loads(raw) if raw else {}
                except ValueError:
                    answer = {}
                err = ApiError(e.code, answer)
                if e.code == 429:
                    time.sleep(min(float(e.headers.get("Retry-After") or 1), 30))
                    continue
                if e.code >= 500 or err.code == "idempotency_key_in_use":
                    log(f"{method} {path}: {err}; retrying")
                    time.sleep(wait)
                    wait = min(wait * 2, 5)
                    continue
                raise err
            except OSError as e:  # refused, reset, timed out
                log(f"{method} {path}: {e}; retrying")
                time.sleep(wait)
                wait = min(wait * 2, 5)
        raise ApiError(503, {"error": {"code": "gave_up", "message": f"{method} {path}"}})

    # ---- start-up --------------------------------------------------------

    def hook_url(self, platform):
        return f"http://127.0.0.1:{self.port}/webhooks/{platform}"

    def subscribe(self, platform):
        url = self.hook_url(platform)
        listed = self.call(platform, "GET", "/v1/webhook_subscriptions") or {}
        mine = self.state["subs"].get(platform)
        if mine and any(
            s.get("id") == mine["id"] and s.get("status", "active") == "active"
            for s in listed.get("data", [])
        ):
            return
        created = self.call(
            platform,
            "POST",
            "/v1/webhook_subscriptions",
            {"url": url, "topics": ["*"]},
            key=f"{self.name}:subscribe:{platform}:{len(listed.get('data', []))}",
        )
        self.state["subs"][platform] = {
            "id": created["id"],
            "url": url,
            "secret": created["secret"],
        }
        self.save()

    def feed_end(self, platform):
        cursor = None
        while True:
            q = "/v1/events?limit=1000" + (f"&after={cursor}" if cursor else "")
            page = self.call(platform, "GET", q)
            cursor = page["next_cursor"]
            if not page.get("has_more") or not page["events"]:
                return cursor

    def map_catalog(self):
        pos_locs = {l["id"] for l in self.call("pos", "GET", "/v1/locations")["data"]}
        shop_locs = {l["id"] for l in self.call("shop", "GET", "/v1/locations")["data"]}
        self.stores = pos_locs & shop_locs
        items = {i["sku"] for i in self.call("pos", "GET", "/v1/items")["data"]}
        products = {p["sku"] for p in self.call("shop", "GET", "/v1/products")["data"]}
        self.skus = items & products

    def start(self):
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        for p in PLATFORMS:
            self.subscribe(p)
        self.map_catalog()
        for p in PLATFORMS:
            if p not in self.state["cursors"]:
                # Fresh install: the merchant's setup is already on both sides.
                self.state["cursors"][p] = self.feed_end(p)
        self.save()
        threading.Thread(target=self.worker, daemon=True).start()
        threading.Thread(target=self.poller, daemon=True).start()
        self.ready = True
        log(f"{self.name}: ready on :{self.port} as {self.me} (time scale {self.scale})")
        while True:
            time.sleep(3600)

    # ---- webhooks --------------------------------------------------------

    def verify(self, platform, headers, raw):
        sub = self.state["subs"].get(platform)
        if not sub:
            return False
        secret = sub["secret"].encode()
        if platform == "pay":
            parts = [p.split("=", 1) for p in (headers.get("Stripe-Signature") or "").split(",")]
            t = next((v for k, v in parts if k == "t"), None)
            sigs = [v for k, v in parts if k == "v1"]
            if t is None or not sigs or not t.isdigit() or abs(time.time() - int(t)) > 300:
                return False
            want = hmac.new(secret, t.encode() + b"." + raw, hashlib.sha256).hexdigest()
            return any(hmac.compare_digest(want, s) for s in sigs)
        if platform == "shop":
            got = headers.get("X-Shopify-Hmac-Sha256") or ""
            want = base64.b64encode(hmac.new(secret, raw, hashlib.sha256).digest()).decode()
            return hmac.compare_digest(want, got)
        got = headers.get("X-Square-Hmacsha256-Signature") or ""
        msg = sub["url"].encode() + raw
        want = base64.b64encode(hmac.new(secret, msg, hashlib.sha256).digest()).decode()
        return hmac.compare_digest(want, got)

    def handler(self):
        connector = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, code, body):
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                if self.path == "/healthz":
                    ok = connector.ready
                    self.answer(200 if ok else 503, {"status": "ok" if ok else "starting"})
                else:
                    self.answer(404, {"error": "not found"})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                platform = self.path.rsplit("/", 1)[-1]
                if not self.path.startswith("/webhooks/") or platform not in PLATFORMS:
                    return self.answer(404, {"error": "not found"})
                if platform not in connector.state["subs"]:
                    # Not subscribed yet (still starting): let it retry.
                    return self.answer(503, {"error": "starting"})
                if not connector.verify(platform, self.headers, raw):
                    return self.answer(401, {"error": "invalid signature"})
                try:
                    event = json.loads(raw)
                except ValueError:
                    return self.answer(400, {"error": "invalid json"})
                connector.inbox.put((platform, event))
                self.answer(200, {"status": "queued"})

            def log_message(self, fmt, *args):
                pass

        return Handler

    # ---- applying events -------------------------------------------------

    def worker(self):
        while True:
            platform, event = self.inbox.get()
            try:
                self.apply(platform, event)
            except Exception as e:  # the feed poll tries again
                log(f"{platform} {event.get('type')} {event.get('id')}: {e}")

    def poller(self):
        every = 60.0 / self.scale  # one business minute
        while True:
            time.sleep(every)
            for p in PLATFORMS:
                try:
                    self.poll(p)
                except Exception as e:
                    log(f"polling {p}: {e}")

    def poll(self, platform):
        while True:
            cursor = self.state["cursors"].get(platform)
            q = "/v1/events?limit=200" + (f"&after={cursor}" if cursor else "")
            page = self.call(platform, "GET", q)
            for event in page["events"]:
                self.apply(platform, event)  # raises: the cursor stays before it
            with self.lock:
                self.state["cursors"][platform] = page["next_cursor"]
                self.save()
            if not page.get("has_more") or not page["events"]:
                return

    def apply(self, platform, event):
        with self.lock:
            if self.dedupe and event["id"] in self.seen:
                return
            self.handle(platform, event)
            self.seen.add(event["id"])
            self.save()

    def mine(self, event):
        actor = event.get("actor") or {}
        return actor.get("kind") == "connector" and actor.get("id") == self.me

    def handle(self, platform, event):
        kind, data = event["type"], event.get("data") or {}
        if platform == "pos" and kind == "inventory.count.updated":
            cause = data.get("cause") or {}
            if self.mine(event) or not cause.get("delta"):
                return
            if cause.get("kind") in ORDER_KINDS_POS or not self.tracked(data):
                return
            self.pos_stock_changed(event, data, cause)
        elif platform == "shop" and kind == "inventory_levels/update":
            cause = data.get("cause") or {}
            if self.mine(event) or not cause.get("delta"):
                return
            if cause.get("kind") in ORDER_KINDS_SHOP or not self.tracked(data):
                return
            self.shop_stock_changed(event, data, cause)
        elif platform == "shop" and kind in ("orders/create", "orders/paid", "orders/updated",
                                              "orders/cancelled", "orders/fulfilled"):
            self.order_changed(event, data["id"])
        elif platform == "pos" and kind == "pickup.completed" and not self.mine(event):
            self.pickup_completed(event, data)
        elif platform == "pos" and kind == "pickup.cancelled" and not self.mine(event):
            self.pickup_closed(event, data)
        elif platform == "pos" and kind == "return.created" and data.get("order_ref"):
            self.store_return(event, data)
        elif platform == "shop" and kind == "refunds/create" and not self.mine(event):
            self.shop_refund(event, data)
        elif platform == "pay" and kind in ("payment_intent.payment_failed",
                                             "payment_intent.canceled"):
            self.payment_dropped(event, data)
        elif platform == "shop" and kind == "products/update" and not self.mine(event):
            self.catalog_to_pos(data["sku"])
        elif platform == "pos" and kind == "item.updated" and not self.mine(event):
            self.catalog_to_shop(data["sku"])

    def tracked(self, data):
        return data.get("sku") in self.skus and data.get("location") in self.stores

    # ---- sync rules: stock (subclasses) ----------------------------------

    def pos_stock_changed(self, event, data, cause):
        raise NotImplementedError

    def shop_stock_changed(self, event, data, cause):
        raise NotImplementedError

    # ---- write helpers ---------------------------------------------------

    def reference(self, event):
        """An optional hint written with each stock write; none by default."""
        return None

    def with_reference(self, body, event):
        ref = self.reference(event)
        if ref is not None:
            body["reference"] = ref
        return body

    def shop_adjust(self, event, key, sku, location, delta, change_from=None):
        body = {"sku": sku, "location": location, "delta": delta, "reason": "correction"}
        self.with_reference(body, event)
        if change_from is not None:
            body["change_from"] = change_from
        return self.call("shop", "POST", "/v1/inventory/adjust", body, key=key)

    def shop_set(self, event, key, sku, location, available, change_from=None):
        body = {"sku": sku, "location": location, "available": available}
        self.with_reference(body, event)
        if change_from is not None:
            body["change_from"] = change_from
        return self.call("shop", "POST", "/v1/inventory/set", body, key=key)

    def shop_level(self, sku, location):
        return self.call("shop", "GET", f"/v1/inventory/{sku}?location={location}")

    def pos_count(self, sku, location):
        return self.call("pos", "GET", f"/v1/inventory/{sku}?location={location}")["quantity"]

    def pos_adjust(self, event, key, sku, location, delta):
        src, dst = ("NONE", "IN_STOCK") if delta > 0 else ("IN_STOCK", "NONE")
        change = {"type": "ADJUSTMENT", "sku": sku, "location": location,
                  "quantity": abs(delta), "from_state": src, "to_state": dst,
                  "occurred_at": now_stamp()}
        self.with_reference(change, event)
        return self.call("pos", "POST", "/v1/inventory/changes", {"changes": [change]}, key=key)

    def pos_set(self, event, key, sku, location, quantity):
        # An absolute count is stamped now, after the read it is based on: a
        # count stamped earlier would be ordered before changes it already
        # includes, and the POS would apply those again on top of it.
        change = {"type": "PHYSICAL_COUNT", "sku": sku, "location": location,
                  "quantity": quantity, "occurred_at": now_stamp(back_ms=0)}
        self.with_reference(change, event)
        return self.call("pos", "POST", "/v1/inventory/changes", {"changes": [change]}, key=key)

    # ---- sync rules: orders (shared) --------------------------------------

    def order_changed(self, event, order_id):
        """Keeps an online order's units set aside at its store (shop -> POS)."""
        o = self.call("shop", "GET", f"/v1/orders/{order_id}")
        location = o.get("pickup_location") or o.get("location")
        if location not in self.stores:
            return
        track = self.state["orders"].setdefault(order_id, {})
        fulfilled = o["fulfillment_status"] == "fulfilled"
        if o["status"] == "cancelled":
            if track.get("reserved") and not track.get("released") and not track.get("done"):
                self.pickup_call(f"{self.name}:release:{order_id}",
                                 f"/v1/pickups/{order_id}/cancel", {}, "pickup_already_cancelled")
                track["released"] = True
            return
        if not track.get("reserved"):
            lines = []
            for line in o["lines"]:
                left = line["quantity"] - line.get("refunded_quantity", 0)
                if not fulfilled:
                    left -= line.get("fulfilled_quantity", 0)
                if left > 0 and line["sku"] in self.skus:
                    lines.append({"sku": line["sku"], "quantity": left})
            if lines:
                self.reserve(order_id, location, lines)
            track["reserved"] = True
        if fulfilled:
            if not track.get("done"):
                self.pickup_call(f"{self.name}:handover:{order_id}",
                                 f"/v1/pickups/{order_id}/complete", {},
                                 "pickup_already_completed")
                track["done"] = True
            self.capture(o)

    def reserve(self, order_id, location, lines):
        """Sets an order's units aside at the store (overridden to delay it)."""
        self.pickup_call(f"{self.name}:reserve:{order_id}", "/v1/pickups",
                         {"order_ref": order_id, "location": location, "lines": lines},
                         "pickup_exists")

    def pickup_call(self, key, path, body, done_code):
        try:
            self.call("pos", "POST", path, body, key=key)
        except ApiError as e:
            if e.code != done_code:
                raise

    def capture(self, o):
        if float(o.get("total_capturable") or 0) > 0:
            try:
                self.call("shop", "POST", f"/v1/orders/{o['id']}/capture", {},
                          key=f"{self.name}:capture:{o['id']}")
            except ApiError as e:
                log(f"capture {o['id']}: {e}")

    def pickup_completed(self, event, data):
        """The customer collected at the register: fulfil online, then capture."""
        order_id = data.get("order_ref")
        if not order_id:
            return
        self.state["orders"].setdefault(order_id, {})["done"] = True
        o = self.call("shop", "GET", f"/v1/orders/{order_id}")
        if o["status"] != "cancelled" and o["fulfillment_status"] != "fulfilled":
            try:
                o = self.call("shop", "POST", f"/v1/orders/{order_id}/fulfill", {},
                              key=f"{self.name}:fulfil:{order_id}")
            except ApiError as e:
                log(f"fulfil {order_id}: {e}")
                return
        self.capture(o)

    # ---- sync rules: orders and money (level 2, shared) -------------------

    def cancel_order(self, key, order_id):
        try:
            o = self.call("shop", "POST", f"/v1/orders/{order_id}/cancel",
                          {"reason": "declined", "restock": True}, key=key)
        except ApiError as e:
            if e.code != "order_already_cancelled":
                raise
            return
        self.order_changed(None, o["id"])

    def pickup_closed(self, event, data):
        """The clerk closed a pickup (a no-show): cancel the online order."""
        order_id = data.get("order_ref")
        track = self.state["orders"].setdefault(order_id, {})
        track["released"] = True
        try:
            o = self.call("shop", "GET", f"/v1/orders/{order_id}")
        except ApiError as e:
            if e.status == 404:
                return
            raise
        if o["status"] != "cancelled":
            self.cancel_order(f"{self.name}:no-show:{order_id}", order_id)

    def payment_dropped(self, event, data):
        """An open order whose payment died at the gateway is cancelled."""
        order_id = (data.get("metadata") or {}).get("order_id")
        if not order_id:
            return
        try:
            o = self.call("shop", "GET", f"/v1/orders/{order_id}")
        except ApiError as e:
            if e.status == 404:
                return
            raise
        open_money = o["financial_status"] in ("pending", "authorized", "voided")
        if o["status"] == "cancelled" or not open_money or o.get("payment_intent") != data["id"]:
            return
        self.cancel_order(f"{self.name}:cancel:{event['id']}", order_id)

    def store_return(self, event, data):
        """A store return of an online order is refunded online, for exactly
        its lines, without restock (the register restocked what it took)."""
        order_id = data["order_ref"]
        o = self.call("shop", "GET", f"/v1/orders/{order_id}")
        lines = []
        for returned in data["lines"]:
            line = next((l for l in o["lines"] if l["sku"] == returned["sku"]), None)
            if line:
                lines.append({"line_id": line["id"], "quantity": returned["quantity"],
                              "restock_type": "no_restock"})
        if lines:
            self.call("shop", "POST", f"/v1/orders/{order_id}/refunds", {"lines": lines},
                      key=f"{self.name}:refund:{data['id']}")

    def shop_refund(self, event, data):
        """A refund with restock on the shop: units never handed over go
        back on sale at the store; units returned to a store are back there."""
        order_id = data.get("order_id")
        track = self.state["orders"].get(order_id) or {}
        for i, line in enumerate(data.get("lines") or []):
            sku, kind = line["sku"], line.get("restock_type")
            key = f"{self.name}:{event['id']}:restock:{i}"
            if kind == "cancel" and track.get("reserved") and not track.get("released") \
                    and not track.get("done"):
                o = self.call("shop", "GET", f"/v1/orders/{order_id}")
                location = o.get("pickup_location") or o.get("location")
                change = {"type": "ADJUSTMENT", "sku": sku, "location": location,
                          "quantity": line["quantity"], "from_state": "RESERVED_FOR_SALE",
                          "to_state": "IN_STOCK", "occurred_at": now_stamp(),
                          "order_ref": order_id}
                self.call("pos", "POST", "/v1/inventory/changes", {"changes": [change]},
                          key=key)
            elif kind == "return" and line.get("location") in self.stores:
                self.pos_adjust(event, key, sku, line["location"], line["quantity"])

    # ---- sync rules: catalog (level 2, shared) ----------------------------

    def catalog_to_pos(self, sku):
        p = self.call("shop", "GET", f"/v1/products/{sku}")
        item = self.call("pos", "GET", f"/v1/items/{sku}")
        want = {"price": p["price"], "currency": p["currency"], "tax_code": p.get("tax_code") or ""}
        if any((item.get(k) or "") != v for k, v in want.items()):
            self.call("pos", "PATCH", f"/v1/items/{sku}", want)

    def catalog_to_shop(self, sku):
        item = self.call("pos", "GET", f"/v1/items/{sku}")
        try:
            p = self.call("shop", "GET", f"/v1/products/{sku}")
        except ApiError as e:
            if e.status == 404:
                return
            raise
        want = {"price": item["price"], "currency": item["currency"],
                "tax_code": item.get("tax_code") or ""}
        if any((p.get(k) or "") != v for k, v in want.items()):
            self.call("shop", "PATCH", f"/v1/products/{sku}", want)
