#!/usr/bin/env python3
"""A connector that writes absolute numbers, promptly.

Written from docs/connector-contract.md alone (Python 3, standard library).
When a store's stock changes on one channel it reads that channel's number
now and writes it to the other as an absolute value: the register's count
becomes the shop's `available` (`POST /v1/inventory/set`), and the shop's
`available` after an admin change becomes the register's count (a
PHYSICAL_COUNT). No compare-and-set. Online orders are set aside at their
store as POS pickups (omnisim_contract.py); its own writes are recognised by
the event's `actor`. It reacts to each webhook at once, so its numbers are
fresh, but an absolute write lands over whatever the target changed in the
meantime: when both channels change at the same instant, one change is
lost (the contract's "blind absolute write"), and certification says so.

    omnisim certify --connector "python3 examples/connectors/absolute_connector.py" --level 1
"""

from omnisim_contract import Connector


class AbsoluteConnector(Connector):
    name = "absolute"

    def pos_stock_changed(self, event, data, cause):
        sku, location = data["sku"], data["location"]
        quantity = self.pos_count(sku, location)
        self.shop_set(event, f"{self.name}:{event['id']}:shop", sku, location, quantity)

    def shop_stock_changed(self, event, data, cause):
        sku, location = data["sku"], data["location"]
        available = self.shop_level(sku, location)["available"]
        self.pos_set(event, f"{self.name}:{event['id']}:pos", sku, location, available)


if __name__ == "__main__":
    AbsoluteConnector().start()
