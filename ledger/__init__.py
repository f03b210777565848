"""The ledger: what was captured, what a unit was inside at a given time, who holds it, how an identifier is keyed.

Every domain reads this one spine and none re-derives it: ``keys`` (the matching key of any identifier form),
``store`` (the hash-chained event store and its single ``append``), ``history`` (set-based loaders and the
containment rule), ``state`` (status and holder folded from history) and ``event_hash`` (the CBV 2.0 event hash).
It imports only the core (``traceability``).
"""
