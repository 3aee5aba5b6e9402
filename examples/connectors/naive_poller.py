#!/usr/bin/env python3
"""A deliberately naive connector: it must FAIL omnisim certification.

Every N seconds (NAIVE_POLL_SECONDS, default 2) it reads each store's count
from the POS and writes it to the shop as an *absolute* "available" number.
It never looks at online orders, keeps no cursor, does no deduplication,
registers no webhooks and verifies no signatures. Standard library only.

What certification finds (and names on the certificate):
  * online sales never reach the POS, and each poll overwrites the shop's
    number with the register's stale one, so units sold online are offered
    again -> `stock_converges` and `no_oversell` fail at Level 1;
  * changes made in the shop admin are overwritten (lost update);
  * it has no webhook receiver, so forged webhooks are not answered with 401.

It follows the connector contract (docs/connector-contract.md) otherwise:
configuration from OMNISIM_* variables, `/healthz` on OMNISIM_CONNECTOR_PORT.
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POS = os.environ["OMNISIM_POS_URL"]
SHOP = os.environ["OMNISIM_SHOP_URL"]
KEY = os.environ["OMNISIM_API_KEY"]
PORT = int(os.environ["OMNISIM_CONNECTOR_PORT"])
SCALE = float(os.environ.get("OMNISIM_TIME_SCALE", "1"))
EVERY = float(os.environ.get("NAIVE_POLL_SECONDS", "2"))


def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + KEY)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        print(f"{method} {url}: HTTP {e.code}", file=sys.stderr, flush=True)
    except OSError as e:
        print(f"{method} {url}: {e}", file=sys.stderr, flush=True)
    return None


def poll_once():
    levels = call("GET", SHOP + "/v1/inventory_levels") or {}
    for level in levels.get("data", []):
        sku, location = level["sku"], level["location"]
        count = call("GET", f"{POS}/v1/inventory/{sku}?location={location}")
        if not count or "quantity" not in count:
            continue  # not a store, or not on the POS
        if count["quantity"] != level["available"]:
            # The naive part: an absolute write, no compare-and-set.
            call("POST", SHOP + "/v1/inventory/set",
                 {"sku": sku, "location": location, "available": count["quantity"]})
            print(f"set {sku}@{location} = {count['quantity']}", flush=True)


def poller():
    while True:
        poll_once()
        time.sleep(EVERY)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok\n" if code == 200 else b"not found\n")

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    threading.Thread(target=poller, daemon=True).start()
    print(f"naive poller on :{PORT}, every {EVERY}s (time scale {SCALE})", flush=True)
    server.serve_forever()
