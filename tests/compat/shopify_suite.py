"""The official Shopify client (ShopifyAPI, pinned) against omnisim's Shopify
dialect: a connector's GraphQL calls (variant by SKU, levels by quantity name,
an @idempotent adjust replayed once, a stale compare-and-set, an absolute set,
orders paged by cursor, capture, cancel, refund with restock at a location,
fulfilment, a webhook subscription whose delivery verifies by HMAC), then the
REST subset through the same client's REST resources (InventoryLevel.adjust and
.set, Order.find with paging, Webhook.create), then customers: GraphQL
customerCreate, customer, customers(query: email:/phone:) in another case and
format, customerUpdate, customerEmailMarketingConsentUpdate, a duplicate email
and an unreachable profile as userErrors, an unknown id as null; REST
shopify.Customer find, search, create, save back and a refused duplicate; and
the signed customers/create and customers/update webhooks with their bodies;
then the shop's promotions as automatic discounts: discountAutomaticBasicCreate
(a percentage on one product, a fixed amount off the order), read back through
automaticDiscountNode and discountNode, checkouts priced by the running one,
ending early by a new endsAt and by discountAutomaticDeactivate, SCHEDULED →
ACTIVE as the clock moves, refused fields named in userErrors, and the signed
discounts/create and discounts/update webhooks.

Uses only `shopify` and the standard library. Environment:
OMNISIM_SHOPIFY_SHOP_URL (http://127.0.0.1:<port>), OMNISIM_SHOPIFY_API_VERSION,
OMNISIM_SHOPIFY_ACCESS_TOKEN, OMNISIM_SHOPIFY_API_SECRET (webhook HMAC key),
OMNISIM_API_KEY (the native shop API, for setup). With OMNISIM_DUMP_DOCUMENTS
set to a path it writes every GraphQL document it sends there (JSON) and exits:
the schema validation test reads them. Exits non-zero on the first mismatch.
"""

import base64
import decimal
import hashlib
import hmac
import http.server
import json
import os
import queue
import sys
import threading
import urllib.parse
import urllib.request

SHOP_URL = os.environ.get("OMNISIM_SHOPIFY_SHOP_URL", "http://127.0.0.1:7102")
VERSION = os.environ.get("OMNISIM_SHOPIFY_API_VERSION", "2026-01")
TOKEN = os.environ.get("OMNISIM_SHOPIFY_ACCESS_TOKEN", "shpat_test_key")
SECRET = os.environ.get("OMNISIM_SHOPIFY_API_SECRET", "shpss_test_key")
NATIVE_KEY = os.environ.get("OMNISIM_API_KEY", "test_key")
PAY_URL = os.environ.get("OMNISIM_PAY_URL", "http://127.0.0.1:7103")

# --- GraphQL documents (every one the suite sends) ------------------------------
SHOP = "query { shop { name myshopifyDomain currencyCode } }"
LOCATIONS = "query { locations(first: 10) { nodes { id name legacyResourceId } } }"
FIND = """query Find($q: String!) {
  productVariants(first: 5, query: $q) {
    nodes {
      id sku price
      product { id title }
      inventoryItem {
        id
        inventoryLevels(first: 10) {
          nodes { id location { id name } quantities(names: ["available", "on_hand", "committed", "incoming"]) { name quantity } }
        }
      }
    }
  }
}"""
ADJUST = """mutation Adjust($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}"""
SET = """mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}"""
LEVEL = """query Level($id: ID!) {
  inventoryLevel(id: $id) { id quantities(names: ["available", "on_hand"]) { name quantity } }
}"""
ORDERS = """query Orders($after: String, $q: String) {
  orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name updatedAt displayFinancialStatus displayFulfillmentStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      transactions(first: 5) { id kind status }
      lineItems(first: 5) { nodes { id sku quantity } }
    }
  }
}"""
CAPTURE = """mutation Capture($input: OrderCaptureInput!) {
  orderCapture(input: $input) {
    transaction { id kind status amountSet { shopMoney { amount } } }
    userErrors { field message }
  }
}"""
ORDER = """query Order($id: ID!) {
  order(id: $id) {
    id displayFinancialStatus displayFulfillmentStatus cancelledAt
    fulfillmentOrders(first: 5) { nodes { id status lineItems(first: 5) { nodes { id remainingQuantity } } } }
  }
}"""
FULFIL = """mutation Fulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status totalQuantity }
    userErrors { field message }
  }
}"""
REFUND = """mutation Refund($input: RefundInput!) {
  refundCreate(input: $input) {
    refund { id totalRefundedSet { shopMoney { amount } } refundLineItems(first: 5) { nodes { quantity restockType location { id } } } }
    userErrors { field message }
  }
}"""
CANCEL = """mutation Cancel($id: ID!) {
  orderCancel(orderId: $id, reason: CUSTOMER, restock: true, refund: true, notifyCustomer: false) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}"""
SUBSCRIBE = """mutation Subscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""
SUBSCRIPTIONS = "query { webhookSubscriptions(first: 10) { nodes { id topic uri } } }"
UNSUBSCRIBE = """mutation Unsubscribe($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}"""

CUSTOMER = """id legacyResourceId firstName lastName displayName email
  defaultEmailAddress { emailAddress marketingState marketingOptInLevel }
  defaultPhoneNumber { phoneNumber }
  emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
  createdAt updatedAt"""
CUSTOMER_CREATE = """mutation CustomerCreate($input: CustomerInput!) {
  customerCreate(input: $input) { customer { %s } userErrors { field message } }
}""" % CUSTOMER
CUSTOMER_UPDATE = """mutation CustomerUpdate($input: CustomerInput!) {
  customerUpdate(input: $input) { customer { %s } userErrors { field message } }
}""" % CUSTOMER
CUSTOMER_CONSENT = """mutation Consent($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id emailMarketingConsent { marketingState } defaultEmailAddress { marketingState } }
    userErrors { field message code }
  }
}"""
CUSTOMER_GET = "query Customer($id: ID!) { customer(id: $id) { %s } }" % CUSTOMER
CUSTOMERS = """query Customers($q: String!) {
  customers(first: 10, query: $q, sortKey: ID) { nodes { id email } pageInfo { hasNextPage } }
}"""

DISCOUNT = """id automaticDiscount { ... on DiscountAutomaticBasic {
  title startsAt endsAt status createdAt
  customerGets {
    value { ... on DiscountPercentage { percentage } ... on DiscountAmount { amount { amount currencyCode } appliesOnEachItem } }
    items { ... on AllDiscountItems { allItems } ... on DiscountProducts { products(first: 10) { nodes { id } } productVariants(first: 10) { nodes { id } } } }
  }
  combinesWith { orderDiscounts productDiscounts shippingDiscounts }
} }"""
DISCOUNT_CREATE = """mutation DiscountCreate($d: DiscountAutomaticBasicInput!) {
  discountAutomaticBasicCreate(automaticBasicDiscount: $d) { automaticDiscountNode { %s } userErrors { field message code } }
}""" % DISCOUNT
DISCOUNT_UPDATE = """mutation DiscountUpdate($id: ID!, $d: DiscountAutomaticBasicInput!) {
  discountAutomaticBasicUpdate(id: $id, automaticBasicDiscount: $d) { automaticDiscountNode { %s } userErrors { field message code } }
}""" % DISCOUNT
DISCOUNT_DEACTIVATE = """mutation DiscountDeactivate($id: ID!) {
  discountAutomaticDeactivate(id: $id) { automaticDiscountNode { %s } userErrors { field message code } }
}""" % DISCOUNT
DISCOUNT_GET = """query Discount($id: ID!) {
  automaticDiscountNode(id: $id) { %s }
  discountNode(id: $id) { id discount { ... on DiscountAutomaticBasic { title status } } }
}""" % DISCOUNT
DISCOUNTS = """query Discounts($q: String) {
  automaticDiscountNodes(first: 10, query: $q, sortKey: ID) { nodes { id } pageInfo { hasNextPage } }
}"""

DOCUMENTS = [SHOP, LOCATIONS, FIND, ADJUST, SET, LEVEL, ORDERS, CAPTURE, ORDER, FULFIL, REFUND, CANCEL,
             SUBSCRIBE, SUBSCRIPTIONS, UNSUBSCRIBE, CUSTOMER_CREATE, CUSTOMER_UPDATE, CUSTOMER_CONSENT,
             CUSTOMER_GET, CUSTOMERS, DISCOUNT_CREATE, DISCOUNT_UPDATE, DISCOUNT_DEACTIVATE, DISCOUNT_GET,
             DISCOUNTS]

if os.environ.get("OMNISIM_DUMP_DOCUMENTS"):
    with open(os.environ["OMNISIM_DUMP_DOCUMENTS"], "w") as f:
        json.dump(DOCUMENTS, f)
    sys.exit(0)

import shopify  # noqa: E402  (after the dump, which needs only the standard library)

# --- the session: ShopifyAPI rewrites any shop address to
# https://<name>.myshopify.com. Session.__prepare_url keeps the host up to its
# first dot and appends "." + myshopify_domain and ":" + port; site() uses
# protocol. So for http://127.0.0.1:<port>: name "127", domain "0.0.1".
parsed = urllib.parse.urlparse(SHOP_URL)
host, port = parsed.hostname, parsed.port
name, _, rest = host.partition(".")
shopify.Session.setup(api_key="omnisim", secret=SECRET, protocol=parsed.scheme, myshopify_domain=rest, port=port)
session = shopify.Session(name, VERSION, TOKEN)
shopify.ShopifyResource.activate_session(session)

checks = 0


def check(what, got, want):
    global checks
    checks += 1
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}")
        sys.exit(1)


def native(method, path, body=None, base=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        (base or SHOP_URL) + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {NATIVE_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def gql(query, **variables):
    out = json.loads(shopify.GraphQL().execute(query, variables=variables or None))
    if out.get("errors"):
        print(f"FAIL GraphQL errors: {out['errors']}")
        sys.exit(1)
    return out["data"]


check("site", session.site, f"{SHOP_URL}/admin/api/{VERSION}")
native("POST", "/_control/reset")
for sku, price in [("SKU-1", "12.50"), ("SKU-2", "5.00")]:
    native("POST", "/v1/products", {"sku": sku, "title": f"Product {sku}", "price": price, "currency": "USD", "status": "active"})
native("POST", "/v1/inventory/set", {"sku": "SKU-1", "location": "web", "available": 20})

shop = gql(SHOP)["shop"]
check("shop currency", shop["currencyCode"], "USD")
locations = {l["name"]: l for l in gql(LOCATIONS)["locations"]["nodes"]}
web, store = locations["Online store"], locations["Store 1"]

# --- find a variant by SKU, read its levels by quantity name --------------------
variants = gql(FIND, q="sku:SKU-1")["productVariants"]["nodes"]
check("one variant", [v["sku"] for v in variants], ["SKU-1"])
variant = variants[0]
check("price", variant["price"], "12.5")
item = variant["inventoryItem"]["id"]
levels = {l["location"]["id"]: l for l in variant["inventoryItem"]["inventoryLevels"]["nodes"]}
web_level = levels[web["id"]]
check(
    "quantities",
    {q["name"]: q["quantity"] for q in web_level["quantities"]},
    {"available": 20, "on_hand": 20, "committed": 0, "incoming": 0},
)

# --- adjust with @idempotent, replayed once -------------------------------------
adjust_input = {
    "name": "available",
    "reason": "correction",
    "referenceDocumentUri": "gid://omnisim-connector/Sync/1",
    "changes": [{"inventoryItemId": item, "locationId": web["id"], "delta": -5, "changeFromQuantity": 20}],
}
first = gql(ADJUST, input=adjust_input, key="sync-1")["inventoryAdjustQuantities"]
check("adjust errors", first["userErrors"], [])
check("adjust change", first["inventoryAdjustmentGroup"]["changes"][0], {"name": "available", "delta": -5, "quantityAfterChange": 15})
again = gql(ADJUST, input=adjust_input, key="sync-1")["inventoryAdjustQuantities"]
check("replay answers the first response", again, first)
level = gql(LEVEL, id=web_level["id"])["inventoryLevel"]
check("applied once", level["quantities"][0], {"name": "available", "quantity": 15})
check("native sees it", native("GET", "/v1/inventory/SKU-1?location=web")["available"], 15)

# --- a stale compare-and-set: nothing applied -----------------------------------
stale = dict(adjust_input, changes=[{"inventoryItemId": item, "locationId": web["id"], "delta": 1, "changeFromQuantity": 20}])
out = gql(ADJUST, input=stale, key="sync-2")["inventoryAdjustQuantities"]
check("stale group", out["inventoryAdjustmentGroup"], None)
check("stale code", [e["code"] for e in out["userErrors"]], ["CHANGE_FROM_QUANTITY_STALE"])
check("stale applied nothing", native("GET", "/v1/inventory/SKU-1?location=web")["available"], 15)

# --- an absolute set --------------------------------------------------------------
out = gql(SET, key="set-1", input={
    "name": "available", "reason": "correction", "referenceDocumentUri": "gid://omnisim-connector/Count/1",
    "quantities": [{"inventoryItemId": item, "locationId": store["id"], "quantity": 4, "changeFromQuantity": 0}],
})["inventorySetQuantities"]
check("set errors", out["userErrors"], [])
check("set change", out["inventoryAdjustmentGroup"]["changes"][0], {"name": "available", "delta": 4, "quantityAfterChange": 4})
check("set native", native("GET", "/v1/inventory/SKU-1?location=store-1")["available"], 4)

# --- orders, paged --------------------------------------------------------------
for _ in range(3):
    native("POST", "/v1/orders", {"lines": [{"sku": "SKU-1", "quantity": 2}], "payment": {"type": "card", "number": "4242424242424242"}})
seen, after = [], None
while True:
    conn = gql(ORDERS, after=after, q="updated_at:>2000-01-01T00:00:00Z")["orders"]
    seen += conn["nodes"]
    if not conn["pageInfo"]["hasNextPage"]:
        break
    after = conn["pageInfo"]["endCursor"]
check("orders paged", len(seen), 3)
check("ids distinct", len({o["id"] for o in seen}), 3)
order = seen[0]
check("authorized", order["displayFinancialStatus"], "AUTHORIZED")
check("order total", order["totalPriceSet"]["shopMoney"], {"amount": "25.0", "currencyCode": "USD"})
check("committed", native("GET", "/v1/inventory/SKU-1?location=web")["committed"], 6)

# --- capture ----------------------------------------------------------------------
auth = order["transactions"][0]
check("authorization", (auth["kind"], auth["status"]), ("AUTHORIZATION", "SUCCESS"))
out = gql(CAPTURE, input={"id": order["id"], "parentTransactionId": auth["id"], "amount": "25.00", "currency": "USD"})["orderCapture"]
check("capture errors", out["userErrors"], [])
check("capture", (out["transaction"]["kind"], out["transaction"]["amountSet"]["shopMoney"]["amount"]), ("CAPTURE", "25.0"))
check("paid", gql(ORDER, id=order["id"])["order"]["displayFinancialStatus"], "PAID")

# --- fulfilment -------------------------------------------------------------------
fo = gql(ORDER, id=order["id"])["order"]["fulfillmentOrders"]["nodes"][0]
check("fulfillment order open", fo["status"], "OPEN")
out = gql(FULFIL, fulfillment={"lineItemsByFulfillmentOrder": [{
    "fulfillmentOrderId": fo["id"],
    "fulfillmentOrderLineItems": [{"id": fo["lineItems"]["nodes"][0]["id"], "quantity": 2}],
}]})["fulfillmentCreate"]
check("fulfil errors", out["userErrors"], [])
check("fulfilled", (out["fulfillment"]["status"], out["fulfillment"]["totalQuantity"]), ("SUCCESS", 2))
check("fulfilment status", gql(ORDER, id=order["id"])["order"]["displayFulfillmentStatus"], "FULFILLED")

# --- refund with restock at a location -------------------------------------------
line = order["lineItems"]["nodes"][0]["id"]
out = gql(REFUND, input={"orderId": order["id"], "note": "damaged box", "refundLineItems": [
    {"lineItemId": line, "quantity": 1, "restockType": "RETURN", "locationId": store["id"]},
]})["refundCreate"]
check("refund errors", out["userErrors"], [])
check("refund amount", out["refund"]["totalRefundedSet"]["shopMoney"]["amount"], "12.5")
check("refund line", out["refund"]["refundLineItems"]["nodes"][0], {"quantity": 1, "restockType": "RETURN", "location": {"id": store["id"]}})
check("restocked at the store", native("GET", "/v1/inventory/SKU-1?location=store-1")["available"], 5)

# --- cancel -----------------------------------------------------------------------
other = seen[1]
out = gql(CANCEL, id=other["id"])["orderCancel"]
check("cancel errors", out["orderCancelUserErrors"], [])
check("cancel job", out["job"]["done"], True)
check("cancelled", gql(ORDER, id=other["id"])["order"]["displayFinancialStatus"], "VOIDED")
check("released", native("GET", "/v1/inventory/SKU-1?location=web")["committed"], 2)

# --- a webhook subscription, HMAC-verified ----------------------------------------
received = queue.Queue()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received.put((body, dict(self.headers)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{server.server_port}/shopify"
out = gql(SUBSCRIBE, topic="INVENTORY_LEVELS_UPDATE", sub={"uri": hook_url, "format": "JSON"})["webhookSubscriptionCreate"]
check("subscribe errors", out["userErrors"], [])
sub = out["webhookSubscription"]
check("listed", gql(SUBSCRIPTIONS)["webhookSubscriptions"]["nodes"], [sub])
gql(ADJUST, key="sync-3", input=dict(adjust_input, changes=[{"inventoryItemId": item, "locationId": web["id"], "delta": 3}]))
body, headers = received.get(timeout=20)
headers = {k.lower(): v for k, v in headers.items()}
digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
check("hmac verifies", hmac.compare_digest(digest, headers["x-shopify-hmac-sha256"]), True)
check("topic", headers["x-shopify-topic"], "inventory_levels/update")
check("shop domain", headers["x-shopify-shop-domain"], shop["myshopifyDomain"])
check("api version header", headers["x-shopify-api-version"], "2026-01")
check("webhook id", len(headers["x-shopify-webhook-id"]), 36)
check("echo reference", headers.get("x-omnisim-reference"), "gid://omnisim-connector/Sync/1")
payload = json.loads(body)
check("body ids", (payload["inventory_item_id"], payload["location_id"]), (int(item.rsplit("/", 1)[1]), int(web["legacyResourceId"])))
check("body available", payload["available"], native("GET", "/v1/inventory/SKU-1?location=web")["available"])
out = gql(UNSUBSCRIBE, id=sub["id"])["webhookSubscriptionDelete"]
check("unsubscribed", out["deletedWebhookSubscriptionId"], sub["id"])

# --- the REST subset through the client's REST resources --------------------------
item_n = int(item.rsplit("/", 1)[1])
web_n = int(web["legacyResourceId"])
store_n = int(store["legacyResourceId"])
check("REST shop", shopify.Shop.current().myshopify_domain, shop["myshopifyDomain"])
check("REST locations", sorted(l.id for l in shopify.Location.find()), sorted([web_n, store_n]))
product = shopify.Product.find(int(variant["product"]["id"].rsplit("/", 1)[1]))
check("REST product", (product.title, product.variants[0].sku, product.variants[0].inventory_item_id), ("Product SKU-1", "SKU-1", item_n))
before = native("GET", "/v1/inventory/SKU-1?location=web")["available"]
lvl = shopify.InventoryLevel.adjust(web_n, item_n, 2)
check("REST adjust", (lvl.available, lvl.location_id, lvl.inventory_item_id), (before + 2, web_n, item_n))
lvl = shopify.InventoryLevel.set(store_n, item_n, 9)
check("REST set", lvl.available, 9)
check("REST set native", native("GET", "/v1/inventory/SKU-1?location=store-1")["available"], 9)
levels = shopify.InventoryLevel.find(inventory_item_ids=item_n, location_ids=web_n)
check("REST levels", [(l.location_id, l.available) for l in levels], [(web_n, before + 2)])
page = shopify.Order.find(limit=2, status="any")
ids = [o.id for o in page]
check("REST first page", len(ids), 2)
check("REST has next", page.has_next_page(), True)
page = page.next_page()
ids += [o.id for o in page]
check("REST paged", len(set(ids)), 3)
check("REST no more", page.has_next_page(), False)
check("REST open only", [o.id for o in shopify.Order.find(status="open")], [ids[2]])
one = shopify.Order.find(ids[0])
check("REST order", (one.financial_status, one.line_items[0].sku), ("partially_refunded", "SKU-1"))
# A refund made in the gateway's dashboard, recorded on its order as a
# transaction of kind refund with the gateway's id for it.
native_order = native("GET", f"/v1/orders/ord_{one.id:06d}")
dashboard = native("POST", "/v1/refunds", {"payment_intent": native_order["payment_intent"], "amount": "1.00"}, base=PAY_URL)
t = shopify.Transaction.create({"order_id": one.id, "kind": "refund", "amount": "1.00",
                                "authorization": dashboard["id"], "source": "external"})
check("REST external refund", (t.errors.full_messages(), t.kind, t.authorization), ([], "refund", dashboard["id"]))
check("REST external refund recorded",
      decimal.Decimal(native("GET", f"/v1/orders/ord_{one.id:06d}")["total_refunded"])
      - decimal.Decimal(native_order["total_refunded"]), decimal.Decimal("1.00"))
hook = shopify.Webhook.create({"topic": "orders/create", "address": hook_url, "format": "json"})
check("REST webhook", (hook.topic, hook.address), ("orders/create", hook_url))
check("REST webhooks listed", [w.id for w in shopify.Webhook.find()], [hook.id])
native("POST", "/v1/orders", {"lines": [{"sku": "SKU-1", "quantity": 1}], "payment": {"type": "card", "number": "4242424242424242"}})
body, headers = received.get(timeout=20)
headers = {k.lower(): v for k, v in headers.items()}
check("REST webhook topic", headers["x-shopify-topic"], "orders/create")
check("REST webhook body", json.loads(body)["line_items"][0]["sku"], "SKU-1")
hook.destroy()

# --- customers: GraphQL ---------------------------------------------------------
while not received.empty():
    received.get_nowait()


def next_hook(topic):
    """The next webhook delivery: it verifies by HMAC and has this topic."""
    body, headers = received.get(timeout=20)
    headers = {k.lower(): v for k, v in headers.items()}
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    check(f"{topic} hmac verifies", hmac.compare_digest(digest, headers["x-shopify-hmac-sha256"]), True)
    check(f"{topic} topic", headers["x-shopify-topic"], topic)
    check(f"{topic} shop domain", headers["x-shopify-shop-domain"], shop["myshopifyDomain"])
    return json.loads(body)


subs = []
for topic in ["CUSTOMERS_CREATE", "CUSTOMERS_UPDATE"]:
    out = gql(SUBSCRIBE, topic=topic, sub={"uri": hook_url, "format": "JSON"})["webhookSubscriptionCreate"]
    check(f"subscribe {topic}", (out["userErrors"], out["webhookSubscription"]["topic"]), ([], topic))
    subs.append(out["webhookSubscription"]["id"])

out = gql(CUSTOMER_CREATE, input={
    "firstName": "Ada", "lastName": "Lovelace", "email": "Ada.Lovelace@Example.com", "phone": "+44 20 7946 0000",
    "emailMarketingConsent": {"marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN"},
})["customerCreate"]
check("customerCreate errors", out["userErrors"], [])
ada = out["customer"]
ada_n = int(ada["legacyResourceId"])
check("customer gid", ada["id"], f"gid://shopify/Customer/{ada_n}")
check("customer names", (ada["firstName"], ada["lastName"], ada["displayName"]), ("Ada", "Lovelace", "Ada Lovelace"))
check("customer email", ada["defaultEmailAddress"], {
    "emailAddress": "Ada.Lovelace@Example.com", "marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN"})
check("customer phone in E.164", ada["defaultPhoneNumber"], {"phoneNumber": "+442079460000"})
check("customer consent", ada["emailMarketingConsent"]["marketingState"], "SUBSCRIBED")
body = next_hook("customers/create")
check("customers/create body", (body["id"], body["admin_graphql_api_id"], body["email"], body["first_name"], body["last_name"], body["phone"]),
      (ada_n, ada["id"], "Ada.Lovelace@Example.com", "Ada", "Lovelace", "+442079460000"))
check("customers/create consent", body["email_marketing_consent"]["state"], "subscribed")
native_ada = native("GET", f"/v1/customers/cus_{ada_n:06d}")
check("native profile", (native_ada["name"], native_ada["accepts_marketing"]), ("Ada Lovelace", True))

check("customer read", gql(CUSTOMER_GET, id=ada["id"])["customer"], ada)
check("customer unknown id", gql(CUSTOMER_GET, id="gid://shopify/Customer/999999")["customer"], None)
for q in ["email:ADA.LOVELACE@example.COM", "phone:'+44 (20) 7946-0000'", "email:'ada.lovelace@example.com' AND phone:+442079460000"]:
    check(f"search {q}", [c["id"] for c in gql(CUSTOMERS, q=q)["customers"]["nodes"]], [ada["id"]])
check("search miss", gql(CUSTOMERS, q="email:nobody@example.com")["customers"]["nodes"], [])
check("search phone miss", gql(CUSTOMERS, q="phone:+442079460001")["customers"]["nodes"], [])

out = gql(CUSTOMER_CREATE, input={"firstName": "Augusta", "email": "ada.lovelace@EXAMPLE.com"})["customerCreate"]
check("duplicate email", out, {"customer": None, "userErrors": [{"field": ["email"], "message": "Email has already been taken"}]})
out = gql(CUSTOMER_CREATE, input={"firstName": "Nobody"})["customerCreate"]
check("no email nor phone", (out["customer"], [e["field"] for e in out["userErrors"]]), (None, [["email"]]))
check("nothing refused was made", len(native("GET", "/v1/customers")["data"]), 1)

out = gql(CUSTOMER_UPDATE, input={"id": ada["id"], "lastName": "Byron"})["customerUpdate"]
check("customerUpdate errors", out["userErrors"], [])
check("customerUpdate names", (out["customer"]["firstName"], out["customer"]["lastName"]), ("Ada", "Byron"))
check("customerUpdate keeps consent", out["customer"]["emailMarketingConsent"]["marketingState"], "SUBSCRIBED")
body = next_hook("customers/update")
check("customers/update body", (body["id"], body["first_name"], body["last_name"]), (ada_n, "Ada", "Byron"))
out = gql(CUSTOMER_UPDATE, input={"id": "gid://shopify/Customer/999999", "firstName": "X"})["customerUpdate"]
check("update unknown id", out, {"customer": None, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]})

out = gql(CUSTOMER_CONSENT, input={"customerId": ada["id"], "emailMarketingConsent": {"marketingState": "UNSUBSCRIBED"}})["customerEmailMarketingConsentUpdate"]
check("consent errors", out["userErrors"], [])
check("consent read back", (out["customer"]["emailMarketingConsent"], out["customer"]["defaultEmailAddress"]),
      ({"marketingState": "NOT_SUBSCRIBED"}, {"marketingState": "NOT_SUBSCRIBED"}))
check("consent native", native("GET", f"/v1/customers/cus_{ada_n:06d}")["accepts_marketing"], False)
body = next_hook("customers/update")
check("customers/update consent", body["email_marketing_consent"], {"state": "not_subscribed", "opt_in_level": None, "consent_updated_at": None})
out = gql(CUSTOMER_CONSENT, input={"customerId": ada["id"], "emailMarketingConsent": {"marketingState": "NOT_SUBSCRIBED"}})["customerEmailMarketingConsentUpdate"]
check("NOT_SUBSCRIBED is read-only", (out["customer"], [e["code"] for e in out["userErrors"]]), (None, ["INCLUSION"]))

# --- customers: REST through shopify.Customer -------------------------------------
from pyactiveresource.connection import ResourceNotFound  # noqa: E402  (ShopifyAPI's own dependency)

found = shopify.Customer.find(ada_n)
check("REST customer", (found.id, found.email, found.first_name, found.last_name, found.phone),
      (ada_n, "Ada.Lovelace@Example.com", "Ada", "Byron", "+442079460000"))
check("REST consent", found.email_marketing_consent.state, "not_subscribed")
check("REST search email", [c.id for c in shopify.Customer.search(query="email:ADA.LOVELACE@EXAMPLE.COM")], [ada_n])
check("REST search phone", [c.id for c in shopify.Customer.search(query="phone:+442079460000")], [ada_n])
check("REST search miss", list(shopify.Customer.search(query="email:nobody@example.com")), [])
try:
    shopify.Customer.find(999999)
    check("REST unknown id raises", "found", "ResourceNotFound")
except ResourceNotFound:
    check("REST unknown id raises", "ResourceNotFound", "ResourceNotFound")

grace = shopify.Customer({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "phone": "+1 (415) 555-0100",
                          "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"}})
check("REST create", grace.save(), True)
check("REST created", (isinstance(grace.id, int), grace.phone, grace.email_marketing_consent.state), (True, "+14155550100", "subscribed"))
body = next_hook("customers/create")
check("REST customers/create body", (body["id"], body["email"], body["first_name"]), (grace.id, "grace@example.com", "Grace"))
grace.first_name = "Amazing"
check("REST save back", grace.save(), True)
check("REST saved", (grace.first_name, grace.last_name), ("Amazing", "Hopper"))
body = next_hook("customers/update")
check("REST customers/update body", (body["id"], body["first_name"], body["email_marketing_consent"]["state"]), (grace.id, "Amazing", "subscribed"))
check("REST save native", native("GET", f"/v1/customers/cus_{grace.id:06d}")["name"], "Amazing Hopper")
twin = shopify.Customer({"first_name": "Twin", "email": "GRACE@example.com"})
check("REST duplicate refused", twin.save(), False)
check("REST duplicate error", twin.errors.full_messages(), ["email has already been taken"])
check("REST listed", sorted(c.id for c in shopify.Customer.find()), sorted([ada_n, grace.id]))
check("nothing else arrived", received.empty(), True)
for sub_id in subs:
    gql(UNSUBSCRIBE, id=sub_id)

# --- promotions as automatic discounts --------------------------------------------
import datetime  # noqa: E402


def clock():
    now = native("GET", "/_control/clock")["now"]
    return datetime.datetime.fromisoformat(now.replace("Z", "+00:00")).replace(microsecond=0)


def iso(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def checkout(qty):
    return native("POST", "/v1/orders", {"lines": [{"sku": "SKU-1", "quantity": qty}],
                                         "payment": {"type": "card", "number": "4242424242424242"}})


subs = []
for topic in ["DISCOUNTS_CREATE", "DISCOUNTS_UPDATE"]:
    out = gql(SUBSCRIBE, topic=topic, sub={"uri": hook_url, "format": "JSON"})["webhookSubscriptionCreate"]
    check(f"subscribe {topic}", (out["userErrors"], out["webhookSubscription"]["topic"]), ([], topic))
    subs.append(out["webhookSubscription"]["id"])
now = clock()
start = iso(now - datetime.timedelta(hours=1))
product_1 = variant["product"]["id"]

out = gql(DISCOUNT_CREATE, d={
    "title": "SPRING-20", "startsAt": start,
    "customerGets": {"value": {"percentage": 0.2}, "items": {"products": {"productsToAdd": [product_1]}}},
    "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": False},
})["discountAutomaticBasicCreate"]
check("discount create errors", out["userErrors"], [])
spring = out["automaticDiscountNode"]
spring_n = int(spring["id"].rsplit("/", 1)[1])
basic = spring["automaticDiscount"]
check("discount gid", spring["id"], f"gid://shopify/DiscountAutomaticNode/{spring_n}")
check("discount read", (basic["title"], basic["startsAt"], basic["endsAt"], basic["status"]), ("SPRING-20", start, None, "ACTIVE"))
check("discount percentage is a fraction", basic["customerGets"]["value"], {"percentage": 0.2})
check("discount products", basic["customerGets"]["items"], {"products": {"nodes": [{"id": product_1}]}, "productVariants": {"nodes": []}})
promo = native("GET", f"/v1/promotions/promo_{spring_n:06d}")
check("native promotion", (promo["kind"], promo["value"], promo["skus"], promo["ends_at"]), ("percentage", "20", ["SKU-1"], None))
body = next_hook("discounts/create")
check("discounts/create body", (body["admin_graphql_api_id"], body["title"], body["status"]), (spring["id"], "SPRING-20", "ACTIVE"))
check("discounts/create times", (body["created_at"] is not None, body["updated_at"] is not None), (True, True))
read = gql(DISCOUNT_GET, id=spring["id"])
check("automaticDiscountNode", read["automaticDiscountNode"], spring)
check("discountNode", read["discountNode"], {"id": spring["id"], "discount": {"title": "SPRING-20", "status": "ACTIVE"}})
check("unknown discount", gql(DISCOUNT_GET, id="gid://shopify/DiscountAutomaticNode/999999")["automaticDiscountNode"], None)
order = checkout(2)
check("checkout priced by the discount", (order["promotion"], order["discount_total"]), (f"promo_{spring_n:06d}", "5.00"))

out = gql(DISCOUNT_CREATE, d={
    "title": "TEN-OFF", "startsAt": start,
    "customerGets": {"value": {"discountAmount": {"amount": "10.00", "appliesOnEachItem": False}}, "items": {"all": True}},
})["discountAutomaticBasicCreate"]
check("fixed create errors", out["userErrors"], [])
ten = out["automaticDiscountNode"]
ten_n = int(ten["id"].rsplit("/", 1)[1])
check("fixed amount per order", ten["automaticDiscount"]["customerGets"], {
    "value": {"amount": {"amount": "10.0", "currencyCode": "USD"}, "appliesOnEachItem": False}, "items": {"allItems": True}})
check("native fixed", (lambda p: (p["kind"], p["value"], p["skus"]))(native("GET", f"/v1/promotions/promo_{ten_n:06d}")),
      ("fixed_amount", "10", []))
check("discounts/create fixed", next_hook("discounts/create")["admin_graphql_api_id"], ten["id"])

# Refused: what a promotion cannot hold, by name; nothing made, nothing sent.
out = gql(DISCOUNT_CREATE, d={
    "title": "BIG-BASKET", "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}},
    "minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "100.00"}},
})["discountAutomaticBasicCreate"]
check("minimum refused", (out["automaticDiscountNode"], [(e["field"], e["code"]) for e in out["userErrors"]]),
      (None, [(["automaticBasicDiscount", "minimumRequirement", "subtotal"], "INVALID")]))
check("minimum message names it", "minimumRequirement" in out["userErrors"][0]["message"], True)
out = gql(DISCOUNT_CREATE, d={
    "title": "ONCE", "customerGets": {"value": {"discountAmount": {"amount": "3", "appliesOnEachItem": False}},
                                      "items": {"products": {"productsToAdd": [product_1]}}},
})["discountAutomaticBasicCreate"]
check("once across products refused", [e["field"][-1] for e in out["userErrors"]], ["appliesOnEachItem"])
out = gql(DISCOUNT_CREATE, d={"title": "HUGE", "customerGets": {"value": {"percentage": 20}, "items": {"all": True}}})["discountAutomaticBasicCreate"]
check("percent as a fraction", [e["code"] for e in out["userErrors"]], ["VALUE_OUTSIDE_RANGE"])
check("nothing refused was made", len(native("GET", "/v1/promotions")["data"]), 2)

# Ending early: a new endsAt; the best running one then prices the checkout.
end = iso(clock())
out = gql(DISCOUNT_UPDATE, id=spring["id"], d={"endsAt": end})["discountAutomaticBasicUpdate"]
check("end early errors", out["userErrors"], [])
check("ended early", (out["automaticDiscountNode"]["automaticDiscount"]["endsAt"], out["automaticDiscountNode"]["automaticDiscount"]["status"]),
      (end, "EXPIRED"))
body = next_hook("discounts/update")
check("discounts/update body", (body["admin_graphql_api_id"], body["status"]), (spring["id"], "EXPIRED"))
out = gql(DISCOUNT_UPDATE, id=spring["id"], d={"endsAt": None})["discountAutomaticBasicUpdate"]
check("an end cannot be taken off", [e["field"] for e in out["userErrors"]], [["automaticBasicDiscount", "endsAt"]])
order = checkout(2)
check("checkout after the end", (order["promotion"], order["discount_total"]), (f"promo_{ten_n:06d}", "10.00"))

# Deactivate: a running one ends now.
out = gql(DISCOUNT_DEACTIVATE, id=ten["id"])["discountAutomaticDeactivate"]
check("deactivate errors", out["userErrors"], [])
check("deactivated", out["automaticDiscountNode"]["automaticDiscount"]["status"], "EXPIRED")
check("deactivate sets the end", out["automaticDiscountNode"]["automaticDiscount"]["endsAt"] is not None, True)
check("discounts/update deactivated", next_hook("discounts/update")["status"], "EXPIRED")
check("checkout with none running", checkout(1)["promotion"], None)
out = gql(DISCOUNT_DEACTIVATE, id="gid://shopify/DiscountAutomaticNode/999999")["discountAutomaticDeactivate"]
check("deactivate unknown", (out["automaticDiscountNode"], [e["field"] for e in out["userErrors"]]), (None, [["id"]]))

# Scheduled, then running once the clock reaches its start.
later = iso(clock() + datetime.timedelta(hours=1))
out = gql(DISCOUNT_CREATE, d={
    "title": "LATER-15", "startsAt": later,
    "customerGets": {"value": {"percentage": 0.15}, "items": {"products": {"productVariantsToAdd": [variant["id"]]}}},
})["discountAutomaticBasicCreate"]
check("scheduled errors", out["userErrors"], [])
scheduled = out["automaticDiscountNode"]
check("scheduled", scheduled["automaticDiscount"]["status"], "SCHEDULED")
check("a variant reads back as its product", scheduled["automaticDiscount"]["customerGets"]["items"]["products"]["nodes"], [{"id": product_1}])
check("discounts/create scheduled", next_hook("discounts/create")["status"], "SCHEDULED")
ids = lambda q: [n["id"] for n in gql(DISCOUNTS, q=q)["automaticDiscountNodes"]["nodes"]]  # noqa: E731
check("listed", ids(None), [spring["id"], ten["id"], scheduled["id"]])
check("listed expired", ids("status:expired"), [spring["id"], ten["id"]])
check("listed scheduled", ids("status:scheduled"), [scheduled["id"]])
native("POST", "/_control/clock", {"advance_secs": 7200})
check("active once started", gql(DISCOUNT_GET, id=scheduled["id"])["automaticDiscountNode"]["automaticDiscount"]["status"], "ACTIVE")
check("listed active", ids("status:active"), [scheduled["id"]])
check("no other discount webhook", received.empty(), True)
for sub_id in subs:
    gql(UNSUBSCRIBE, id=sub_id)
# --- gift cards: GraphQL and shopify.GiftCard -------------------------------------
GIFT_CARD_CREATE = """mutation Create($input: GiftCardCreateInput!) {
  giftCardCreate(input: $input) {
    giftCard { id balance { amount currencyCode } initialValue { amount } lastCharacters maskedCode note }
    giftCardCode
    userErrors { field message code }
  }
}"""
GIFT_CARD = """query Card($id: ID!) {
  giftCard(id: $id) {
    id balance { amount } enabled
    transactions(first: 10) { nodes { __typename amount { amount currencyCode } processedAt } }
  }
}"""
GIFT_CARDS = """query Cards($q: String) { giftCards(first: 10, query: $q) { nodes { id } } giftCardsCount(query: $q) { count precision } }"""

out = gql(GIFT_CARD_CREATE, input={"initialValue": "30.00", "code": "COMPATCARD01", "note": "compat"})["giftCardCreate"]
check("giftCardCreate errors", out["userErrors"], [])
check("giftCardCreate code", out["giftCardCode"], "COMPATCARD01")
check("giftCardCreate card", (out["giftCard"]["balance"], out["giftCard"]["lastCharacters"], out["giftCard"]["note"]),
      ({"amount": "30.0", "currencyCode": "USD"}, "RD01", "compat"))
card_id = out["giftCard"]["id"]
card_n = int(card_id.rsplit("/", 1)[1])
spent = native("POST", "/v1/orders", {"lines": [{"sku": "SKU-1", "quantity": 1}],
                                      "payment": {"type": "gift_card", "code": "COMPATCARD01"}})
from decimal import Decimal  # noqa: E402

paid = Decimal(spent["total"])
got = gql(GIFT_CARD, id=card_id)["giftCard"]
check("a card spent online", (Decimal(got["balance"]["amount"]), got["enabled"]), (30 - paid, True))
check("its debit", [(t["__typename"], Decimal(t["amount"]["amount"])) for t in got["transactions"]["nodes"]],
      [("GiftCardDebitTransaction", -paid)])
out = gql(GIFT_CARD_CREATE, input={"initialValue": "5", "code": "short"})["giftCardCreate"]
check("short code refused", (out["giftCard"], [(e["field"], e["code"]) for e in out["userErrors"]]),
      (None, [(["input", "code"], "TOO_SHORT")]))
listed = gql(GIFT_CARDS, q="balance_status:partial")
check("giftCards partial", ([n["id"] for n in listed["giftCards"]["nodes"]], listed["giftCardsCount"]), ([card_id], {"count": 1, "precision": "EXACT"}))

found = shopify.GiftCard.find(card_n)
check("REST gift card", (found.id, Decimal(found.balance), found.initial_value, found.last_characters, found.note),
      (card_n, 30 - paid, "30.00", "RD01", "compat"))
made = shopify.GiftCard({"initial_value": "20.00", "code": "COMPATCARD02"})
check("REST gift card create", made.save(), True)
check("REST gift card created", (made.code, made.balance, made.id), ("COMPATCARD02", "20.00", card_n + 1))
dup = shopify.GiftCard({"initial_value": "20.00", "code": "COMPATCARD02"})
check("REST duplicate code refused", dup.save(), False)
check("REST duplicate code error", dup.errors.full_messages(), ["code has already been taken"])
check("REST gift card search", [g.id for g in shopify.GiftCard.search(query="last_characters:RD02")], [made.id])
check("REST gift card count", shopify.GiftCard.count(), 2)
check("the gateway holds them", native("GET", "/v1/events?limit=1000")["events"][-1]["type"], "gift_cards/issued")

server.shutdown()

print(f"{checks} checks passed")
