"""Throughput of the CBV 2.0 event hash on a realistic ObjectEvent: 10 SGTINs, vocabulary, locations, parties.

Capture computes one hash per event without an eventID, so this bounds how fast a document can be acknowledged.
Every event has its own serials so that nothing is measured from a warm cache. Prints ``name: value`` lines.
"""

from __future__ import annotations

import time
from typing import Any

from ledger.event_hash import HashContext, event_hash_id

CONTEXT = HashContext.from_jsonld(
    ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"example": "https://ns.example.com/epcis/"}]
)


def object_event(batch: int) -> dict[str, Any]:
    """A shipping ObjectEvent like the ones our scanners send, with ten serialised units."""
    return {
        "type": "ObjectEvent",
        "eventTime": "2024-05-14T09:31:07.123+02:00",
        "eventTimeZoneOffset": "+02:00",
        "eventID": f"urn:uuid:6b1f1f0e-0000-4000-8000-{batch:012d}",
        "recordTime": "2024-05-14T07:31:09.004Z",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{batch * 10 + unit}A" for unit in range(10)],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00005.0"},
        "bizLocation": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        "bizTransactionList": [{"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:4012345000009:{batch}"}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"}],
        "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00000"}],
        "example:scannerID": "SCN-0042",
    }


def main() -> None:
    events = [object_event(batch) for batch in range(20_000)]
    event_hash_id(events[0], CONTEXT)  # import-time and first-call costs are not throughput
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        for event in events:
            event_hash_id(event, CONTEXT)
        best = max(best, len(events) / (time.perf_counter() - started))
    print(f"events_per_second: {best:.0f}")
    print(f"microseconds_per_event: {1e6 / best:.1f}")
    print("epcs_per_event: 10")


if __name__ == "__main__":
    main()
