"""A naive poller on the official clients only: it must FAIL level 1.

Built on `squareup` (`from square import Square`) and `ShopifyAPI`
(`shopify.GraphQL()`) and the standard library, reading the credentials and
addresses each `omnisim certify --via` mode gives (SQUARE_BASE_URL and
SHOPIFY_SHOP_URL in `--via base-url`; the real hosts through HTTPS_PROXY in
`--via intercept`). It serves `/healthz` on 127.0.0.1:$OMNISIM_CONNECTOR_PORT.

Every NAIVE_POLL_SECONDS (default 2, wall clock) it reads every store's
IN_STOCK count on Square and `available` on Shopify, and copies whichever
side moved since its last poll to the other as an absolute number:
`inventorySetQuantities` (no compare quantity) on the shop, a
`PHYSICAL_COUNT` on the register. It registers no webhooks, keeps no
cursor, deduplicates nothing and sets nothing aside for online orders.

What certification finds: a sale at the register and an online order in
the same poll window are both "changes", and the absolute write of one side
erases the other (a lost update): `stock_converges`; the last units are
sold twice while the shop still offers what the register already sold:
`no_oversell`; online orders are never set aside at the store, so the
register's clerk cannot hand them over (`pickups_follow_orders`).
"""

import datetime
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import shopify
from square import Square
from square.environment import SquareEnvironment

PORT = int(os.environ["OMNISIM_CONNECTOR_PORT"])
EVERY = float(os.environ.get("NAIVE_POLL_SECONDS", "2"))

square = Square(token=os.environ["SQUARE_ACCESS_TOKEN"], timeout=20,
                **({"base_url": os.environ["SQUARE_BASE_URL"]} if os.environ.get("SQUARE_BASE_URL")
                   else {"environment": SquareEnvironment.PRODUCTION}))
_version, _token = os.environ["SHOPIFY_API_VERSION"], os.environ["SHOPIFY_ACCESS_TOKEN"]
if os.environ.get("SHOPIFY_SHOP_URL"):
    shopify.ShopifyResource.site = f"{os.environ['SHOPIFY_SHOP_URL']}/admin/api/{_version}"
    shopify.ShopifyResource.version = _version
    shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = _token
else:
    shopify.ShopifyResource.activate_session(
        shopify.Session(os.environ["SHOPIFY_SHOP_DOMAIN"], _version, _token))

LEVELS = """query {
  locations(first: 50) { nodes { id name } }
  productVariants(first: 250) {
    nodes { sku inventoryItem { id inventoryLevels(first: 50) {
      nodes { location { id } quantities(names: ["available"]) { name quantity } } } } }
  }
}"""
SET = """mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) { userErrors { field message code } }
}"""


def gql(document, variables=None):
    return json.loads(shopify.GraphQL().execute(document, variables)).get("data") or {}


def poll_once(last):
    stores = {loc.name: loc.id for loc in square.locations.list().locations or []}
    var_of_sku = {o.item_variation_data.sku: o.id for o in square.catalog.list(types="ITEM_VARIATION")
                  if o.item_variation_data is not None and o.item_variation_data.sku}
    counts = {(c.catalog_object_id, c.location_id): int(c.quantity)
              for c in square.inventory.batch_get_counts(location_ids=sorted(stores.values()))
              if c.state == "IN_STOCK"}
    data = gql(LEVELS)
    store_of = {loc["id"]: stores[loc["name"]] for loc in data["locations"]["nodes"] if loc["name"] in stores}
    for v in data["productVariants"]["nodes"]:
        var = var_of_sku.get(v["sku"])
        for lvl in v["inventoryItem"]["inventoryLevels"]["nodes"]:
            store = store_of.get(lvl["location"]["id"])
            if var is None or store is None:
                continue
            pos = counts.get((var, store), 0)
            shop = lvl["quantities"][0]["quantity"]
            key = (v["sku"], store)
            was = last.get(key)
            last[key] = (pos, shop)
            if was is None or pos == shop:
                continue
            if pos != was[0]:
                # The naive part: an absolute write, no compare quantity.
                gql(SET, {"input": {"name": "available", "reason": "correction", "ignoreCompareQuantity": True,
                                    "quantities": [{"inventoryItemId": v["inventoryItem"]["id"],
                                                    "locationId": lvl["location"]["id"], "quantity": pos}]}})
                last[key] = (pos, pos)
                print(f"set shop {key} = {pos}", flush=True)
            elif shop != was[1]:
                t = datetime.datetime.now(datetime.timezone.utc)
                square.inventory.batch_create_changes(
                    idempotency_key=f"naive-{key}-{t.isoformat()}",
                    changes=[{"type": "PHYSICAL_COUNT", "physical_count": {
                        "catalog_object_id": var, "location_id": store, "state": "IN_STOCK",
                        "quantity": str(shop), "occurred_at": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}])
                last[key] = (shop, shop)
                print(f"count register {key} = {shop}", flush=True)


def poller():
    last = {}
    while True:
        try:
            poll_once(last)
        except Exception as e:  # a naive poller just tries again next time
            print(f"poll failed: {type(e).__name__}: {e}", flush=True)
        time.sleep(EVERY)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    threading.Thread(target=poller, daemon=True).start()
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
