"""The official clients, unchanged, reach the dialects at the real hosts.

Run with ONLY the environment `omnisim serve --intercept` prints (HTTPS_PROXY,
SSL_CERT_FILE, REQUESTS_CA_BUNDLE, ..., STRIPE_API_KEY, SQUARE_ACCESS_TOKEN,
SHOPIFY_SHOP_DOMAIN, ...): no base URL is set anywhere. Uses only the official
clients (stripe, squareup, ShopifyAPI) and the standard library.

Each call in CALLS is answered by whatever its dialect serves today: a real
answer, or the dialect's own 404 as the client parses it (which proves the
request went through the proxy, over TLS trusted via the printed CA, to that
platform's router). Add a call to CALLS when a dialect serves it; a call that
must be served can be marked `required=True`.

Also checked: a wrong credential is refused in the platform's own style; a
host outside the simulated list is refused and named; a client that does not
trust the omnisim CA fails TLS. Exits non-zero on any mismatch.
"""

import http.client
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

import pyactiveresource.connection
import shopify
import stripe
from square import Square
from square.core.api_error import ApiError
from square.environment import SquareEnvironment

FAILED = []
REPORT = []


def record(name, ok, detail):
    REPORT.append((name, ok, detail))
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if not ok:
        FAILED.append(name)


# --- Stripe -----------------------------------------------------------------

def stripe_missing(e):
    """The Stripe dialect's answer to a call it does not serve yet."""
    return (isinstance(e, stripe.InvalidRequestError) and e.http_status == 404
            and e.code == "resource_missing")


def stripe_setup():
    stripe.api_key = os.environ["STRIPE_API_KEY"]
    stripe.max_network_retries = 0


# --- Square -----------------------------------------------------------------

def square_client(environment=SquareEnvironment.PRODUCTION, token=None):
    return Square(token=token or os.environ["SQUARE_ACCESS_TOKEN"], environment=environment)


def square_missing(e):
    return (isinstance(e, ApiError) and e.status_code == 404
            and isinstance(e.body, dict)
            and e.body.get("errors", [{}])[0].get("category") == "INVALID_REQUEST_ERROR")


# --- Shopify ----------------------------------------------------------------

def shopify_session(token=None):
    session = shopify.Session(os.environ["SHOPIFY_SHOP_DOMAIN"],
                              os.environ["SHOPIFY_API_VERSION"],
                              token or os.environ["SHOPIFY_ACCESS_TOKEN"])
    shopify.ShopifyResource.activate_session(session)


def shopify_missing(e):
    if isinstance(e, pyactiveresource.connection.ResourceNotFound):
        return True
    if isinstance(e, urllib.error.HTTPError) and e.code == 404:
        return True
    return False


def shopify_graphql(query):
    return json.loads(shopify.GraphQL().execute(query))


# (platform, call name, function, "not served yet" predicate, required)
CALLS = [
    ("stripe", "PaymentIntent.list", lambda: stripe.PaymentIntent.list(limit=1), stripe_missing, False),
    ("stripe", "Refund.list", lambda: stripe.Refund.list(limit=1), stripe_missing, False),
    ("stripe", "Event.list", lambda: stripe.Event.list(limit=1), stripe_missing, False),
    ("stripe", "WebhookEndpoint.list", lambda: stripe.WebhookEndpoint.list(limit=1), stripe_missing, False),
    ("square", "locations.list", lambda: square_client().locations.list(), square_missing, False),
    ("square", "locations.list (sandbox host)",
     lambda: square_client(SquareEnvironment.SANDBOX).locations.list(), square_missing, False),
    ("square", "catalog.list", lambda: list(square_client().catalog.list()), square_missing, False),
    ("square", "inventory.batch_get_counts",
     lambda: list(square_client().inventory.batch_get_counts(location_ids=["store-1"])),
     square_missing, False),
    ("shopify", "Shop.current", lambda: shopify.Shop.current(), shopify_missing, False),
    ("shopify", "Location.find", lambda: shopify.Location.find(), shopify_missing, False),
    ("shopify", "Product.find", lambda: shopify.Product.find(limit=1), shopify_missing, False),
    ("shopify", "GraphQL shop", lambda: shopify_graphql("{ shop { name } }"), shopify_missing, False),
]


def run_calls():
    stripe_setup()
    shopify_session()
    for platform, name, fn, missing, required in CALLS:
        label = f"{platform} {name}"
        try:
            fn()
            record(label, True, "served by the dialect")
        except Exception as e:  # the client's own exception types
            if missing(e) and not required:
                record(label, True, f"reached the {platform} dialect (not served yet: its 404)")
            else:
                record(label, False, f"{type(e).__name__}: {e}")


def wrong_credentials():
    stripe.api_key = "sk_live_not_accepted"
    try:
        stripe.PaymentIntent.list(limit=1)
        record("stripe live key refused", False, "accepted")
    except stripe.AuthenticationError as e:
        record("stripe live key refused", e.http_status == 401, f"{e.http_status}: {e.user_message}")
    except Exception as e:
        record("stripe live key refused", False, f"{type(e).__name__}: {e}")
    stripe_setup()

    try:
        square_client(token="EAAAwrong").locations.list()
        record("square wrong token refused", False, "accepted")
    except ApiError as e:
        category = (e.body or {}).get("errors", [{}])[0].get("category") if isinstance(e.body, dict) else None
        record("square wrong token refused",
               e.status_code == 401 and category == "AUTHENTICATION_ERROR",
               f"{e.status_code} {category}")
    except Exception as e:
        record("square wrong token refused", False, f"{type(e).__name__}: {e}")

    shopify_session(token="shpat_wrong")
    try:
        shopify.Shop.current()
        record("shopify wrong token refused", False, "accepted")
    except pyactiveresource.connection.UnauthorizedAccess as e:
        record("shopify wrong token refused", True, f"401: {e}")
    except Exception as e:
        record("shopify wrong token refused", False, f"{type(e).__name__}: {e}")
    shopify_session()


def proxy_address():
    u = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
    return u.hostname, u.port


def other_hosts_refused():
    host, port = proxy_address()
    for target in ["example.com:443", "files.stripe.com:443", "127.0.0.1:22"]:
        name = target.rsplit(":", 1)[0]
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("CONNECT", target, headers={"Host": target})
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        record(f"CONNECT {target} refused", r.status == 403 and f"`{name}`" in body,
               f"{r.status} {body[:120]}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": os.environ["HTTPS_PROXY"]}))
    try:
        opener.open("http://example.org/", timeout=10)
        record("plain http://example.org refused", False, "answered")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        record("plain http://example.org refused", e.code == 403 and "`example.org`" in body,
               f"{e.code} {body[:120]}")


def untrusted_client_fails_tls():
    """A client trusting only the system's CAs (or none) cannot talk to the proxy's hosts."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    system = ssl.get_default_verify_paths().openssl_cafile
    if system and os.path.exists(system):
        ctx.load_verify_locations(cafile=system)
    handler = urllib.request.HTTPSHandler(context=ctx)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": os.environ["HTTPS_PROXY"]}), handler)
    try:
        opener.open("https://api.stripe.com/v1/charges", timeout=10)
        record("untrusted client fails TLS", False, "answered")
    except urllib.error.URLError as e:
        reason = str(e.reason)
        record("untrusted client fails TLS", "CERTIFICATE_VERIFY_FAILED" in reason, reason)


def main():
    missing = [k for k in ("HTTPS_PROXY", "SSL_CERT_FILE", "STRIPE_API_KEY",
                           "SQUARE_ACCESS_TOKEN", "SHOPIFY_SHOP_DOMAIN") if not os.environ.get(k)]
    if missing:
        print(f"missing environment: {missing}", file=sys.stderr)
        return 2
    for stray in ("OMNISIM_POS_URL", "OMNISIM_SHOP_URL", "OMNISIM_PAY_URL"):
        if stray in os.environ:
            print(f"{stray} is set: this suite must run with the intercept environment only",
                  file=sys.stderr)
            return 2
    run_calls()
    wrong_credentials()
    other_hosts_refused()
    untrusted_client_fails_tls()
    served = sum(1 for _, ok, d in REPORT if ok and d == "served by the dialect")
    print(f"intercept suite: {len(REPORT) - len(FAILED)} ok, {len(FAILED)} failed ({served} calls served by a dialect)")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
