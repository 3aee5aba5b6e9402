#!/usr/bin/env python3
"""A connector that compare-and-sets the shop.

Written from docs/connector-contract.md alone (Python 3, standard library).
A register change reaches the shop as an absolute `available` guarded by
compare-and-set: it reads the shop's level, writes `available + delta` with
`change_from` = what it read, and on 409 `change_from_quantity_stale`
(someone changed the level in between) reads again and retries. The POS has
no compare-and-set, so a shop admin change reaches the register as a
POS adjustment by its difference. Online orders are set aside at their
store as POS pickups (omnisim_contract.py); its own writes are recognised by
the event's `actor`.

    omnisim certify --connector "python3 examples/connectors/cas_connector.py" --level 1
"""

from omnisim_contract import ApiError, Connector, log

TRIES = 10


class CasConnector(Connector):
    name = "cas"

    def pos_stock_changed(self, event, data, cause):
        sku, location = data["sku"], data["location"]
        for attempt in range(TRIES):
            seen = self.shop_level(sku, location)["available"]
            key = f"{self.name}:{event['id']}:shop:{attempt}"
            try:
                self.shop_set(event, key, sku, location, seen + cause["delta"], change_from=seen)
                return
            except ApiError as e:
                if e.code != "change_from_quantity_stale":
                    raise
                log(f"{sku}@{location}: shop moved from {seen}; reading again")
        raise ApiError(409, {"error": {"code": "still_stale", "message": f"{sku}@{location}"}})

    def shop_stock_changed(self, event, data, cause):
        sku, location = data["sku"], data["location"]
        self.pos_adjust(event, f"{self.name}:{event['id']}:pos", sku, location, cause["delta"])


if __name__ == "__main__":
    CasConnector().start()
