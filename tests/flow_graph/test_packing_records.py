"""A unit inside a case only by its packing record (``Code.parent_id``, set by ``codes aggregate``; no event ever
names the unit): the shipment of the case reaches it, and the full re-evaluation must find what the capture found,
not withdraw an alert whose unit no event names (it did, before ``flow_graph.service._evaluated``)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from codes.service import aggregate
from flow_graph import service
from tests.factories import seed_masterdata, signed_codes
from tests.flow_graph.helpers import brief, capture, case, ev
from traceability.gs1 import with_check_digit
from traceability.models import Code, CodeLevel, CodeStatus


def test_a_unit_packed_by_record_keeps_its_alert_through_a_full_reevaluation(session: Session,
                                                                            tmp_path: Path) -> None:  # fmt: skip
    seed_masterdata(session)
    units = signed_codes(session, tmp_path / "keys", 2)
    session.add(Code(level=CodeLevel.case, sscc=with_check_digit("06901234000000001"), status=CodeStatus.commissioned,
                     holder_id="PLANT-1"))  # case(1)'s SSCC
    session.flush()
    aggregate(session=session, parent=case(1), children=units)
    serials = {u.split("/21/")[1].split("?")[0] for u in units}
    capture(session,
            ev(1, "commissioning", [case(1)], "PLANT-1", 1, action="ADD"),
            ev(2, "shipping", [case(1)], "PLANT-1", 2, dest="D-GZ"),
            ev(3, "shipping", [case(1)], "D-GZ", 30, dest="D-NJ"),
            ev(4, "receiving", [case(1)], "D-NJ", 40))  # fmt: skip
    found = brief(session)
    assert {a[1] for a in found} >= serials, found  # the case's units were reached
    service.reevaluate(session=session)
    assert brief(session) == found
