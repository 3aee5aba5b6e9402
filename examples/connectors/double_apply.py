#!/usr/bin/env python3
"""Deliberately broken: the delta connector, with no deduplication at all.

Every delivery of an event is applied, however many times it arrives: the
webhook and the change-feed copy of one event (and any redelivered webhook)
each write their difference again, with no Idempotency-Key to let the
platform recognise the repeat. Its writes carry a `reference` that looks
exactly like the reference engine's (`omnisim-engine:<event id>`), to show
that no reference format makes a double apply pass: certification must fail
`exactly_once`. Python 3, standard library only.

    omnisim certify --connector "python3 examples/connectors/double_apply.py" --level 1
"""

from delta_connector import DeltaConnector


class DoubleApply(DeltaConnector):
    name = "double-apply"
    dedupe = False
    idempotency = False

    def reference(self, event):
        return "omnisim-engine:" + event["id"]


if __name__ == "__main__":
    DoubleApply().start()
