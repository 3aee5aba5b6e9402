#!/usr/bin/env python3
"""Deliberately broken: the delta connector, but shop -> POS is late.

Everything a shop change must do at the register (a shop admin adjustment
as a POS adjustment, an online order's units set aside as a POS pickup)
waits SLOW_SHOP_TO_POS_MINUTES of business time first (default 6.5, over
the 5-minute stock SLA; at OMNISIM_TIME_SCALE=60 that is 6.5 s of wall
time). POS -> shop stays prompt. Certification must fail `sync_latency`
for the shop -> POS direction only. Python 3, standard library only.

    omnisim certify --connector "python3 examples/connectors/slow_shop_to_pos.py" --level 1
"""

import os
import threading

from delta_connector import DeltaConnector
from omnisim_contract import log


class SlowShopToPos(DeltaConnector):
    name = "slow-shop-to-pos"

    def later(self, what, fn):
        minutes = float(os.environ.get("SLOW_SHOP_TO_POS_MINUTES", "6.5"))

        def run():
            with self.lock:
                try:
                    fn()
                except Exception as e:
                    log(f"{what}: {e}")

        threading.Timer(minutes * 60 / self.scale, run).start()

    def shop_stock_changed(self, event, data, cause):
        sup = super().shop_stock_changed
        self.later(f"shop change {event['id']}", lambda: sup(event, data, cause))

    def reserve(self, order_id, location, lines):
        sup = super().reserve
        self.later(f"reserving {order_id}", lambda: sup(order_id, location, lines))


if __name__ == "__main__":
    SlowShopToPos().start()
