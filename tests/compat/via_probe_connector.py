"""A connector that only proves it can reach the dialects, for `omnisim certify --via`.

Built on the official clients (stripe, squareup, ShopifyAPI) and the standard
library. In `--via intercept` it uses the real hosts (no base URL anywhere:
HTTPS_PROXY and the CA variables do the work); in `--via base-url` it takes
STRIPE_API_BASE, SQUARE_BASE_URL and SHOPIFY_SHOP_URL. At start it makes one
call per platform and exits 1 unless each reached its dialect (an answer, or
the dialect's own 404 for a call not served yet); then it answers /healthz and
syncs nothing, so certification must find it NOT certified.
"""

import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import pyactiveresource.connection
import shopify
import stripe
from square import Square
from square.core.api_error import ApiError
from square.environment import SquareEnvironment

PORT = int(os.environ["OMNISIM_CONNECTOR_PORT"])


def reached(name, fn, missing):
    try:
        fn()
        return f"{name}: served"
    except Exception as e:  # the client's own exception types
        if missing(e):
            return f"{name}: reached (404: not served yet)"
        print(f"{name}: did not reach the dialect: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)


def main():
    stripe.api_key = os.environ["STRIPE_API_KEY"]
    stripe.max_network_retries = 0
    if os.environ.get("STRIPE_API_BASE"):
        stripe.api_base = os.environ["STRIPE_API_BASE"]
    square = Square(token=os.environ["SQUARE_ACCESS_TOKEN"],
                    **({"base_url": os.environ["SQUARE_BASE_URL"]} if os.environ.get("SQUARE_BASE_URL")
                       else {"environment": SquareEnvironment.PRODUCTION}))
    version, token = os.environ["SHOPIFY_API_VERSION"], os.environ["SHOPIFY_ACCESS_TOKEN"]
    if os.environ.get("SHOPIFY_SHOP_URL"):
        # A Session always makes https://<name>.myshopify.com; a base URL is
        # set on the resource class instead (the client's documented site).
        shopify.ShopifyResource.site = f"{os.environ['SHOPIFY_SHOP_URL']}/admin/api/{version}"
        shopify.ShopifyResource.version = version
        shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = token
    else:
        shopify.ShopifyResource.activate_session(
            shopify.Session(os.environ["SHOPIFY_SHOP_DOMAIN"], version, token))
    lines = [
        reached("stripe", lambda: stripe.PaymentIntent.list(limit=1),
                lambda e: isinstance(e, stripe.InvalidRequestError) and e.http_status == 404),
        reached("square", lambda: square.locations.list(),
                lambda e: isinstance(e, ApiError) and e.status_code == 404),
        reached("shopify", lambda: shopify.Shop.current(),
                lambda e: isinstance(e, pyactiveresource.connection.ResourceNotFound)),
    ]
    print("probe: " + "; ".join(lines), flush=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()


if __name__ == "__main__":
    main()
