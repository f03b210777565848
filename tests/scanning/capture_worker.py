"""Captures numbered documents in a loop and prints an ACK line after each commit; the crash test kills it."""

from __future__ import annotations

import sys

from scanning.epcis import capture_document
from traceability.database import make_engine, session_scope


def document(doc_no: int, size: int) -> dict[str, object]:
    events = [
        {"eventID": f"urn:uuid:00000000-0000-4000-8000-{doc_no:06d}{i:06d}", "type": "ObjectEvent",
         "action": "OBSERVE", "bizStep": "inspecting", "epcList": [f"urn:epc:id:sgtin:0614141.107346.D{doc_no}E{i}"],
         "eventTime": "2026-03-01T10:00:00+08:00", "eventTimeZoneOffset": "+08:00"}
        for i in range(size)
    ]  # fmt: skip
    return {"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z",
            "epcisBody": {"eventList": events}}  # fmt: skip


def main() -> None:
    url, size = sys.argv[1], int(sys.argv[2])
    engine = make_engine(url)
    doc_no = 0
    while True:
        with session_scope(engine) as session:
            result = capture_document(session=session, document=document(doc_no, size))
        sys.stdout.write(f"ACK {doc_no} {len(result.stored)}\n")
        sys.stdout.flush()
        doc_no += 1


if __name__ == "__main__":
    main()
