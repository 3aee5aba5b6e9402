#!/usr/bin/env python3
"""A connector that sends differences, and never a `reference`.

Written from docs/connector-contract.md alone (Python 3, standard library).
Every stock change on one channel travels to the other as the difference it
made (`cause.delta`): a register change as a shop adjust, a shop admin
change as a POS adjustment; online orders are set aside at their store as
POS pickups (the shared plumbing in omnisim_contract.py). Its own writes
come back as events whose `actor` is its own key; it skips those. Each
write carries an Idempotency-Key derived from the event that caused it, so
a retry, a webhook and the feed copy of the same event never apply twice.

    omnisim certify --connector "python3 examples/connectors/delta_connector.py" --level 1
"""

from omnisim_contract import Connector


class DeltaConnector(Connector):
    name = "delta"

    def pos_stock_changed(self, event, data, cause):
        sku, location = data["sku"], data["location"]
        self.shop_adjust(event, f"{self.name}:{event['id']}:shop", sku, location, cause["delta"])

    def shop_stock_changed(self, event, data, cause):
        sku, location = data["sku"], data["location"]
        self.pos_adjust(event, f"{self.name}:{event['id']}:pos", sku, location, cause["delta"])


if __name__ == "__main__":
    DeltaConnector().start()
