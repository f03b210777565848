"""The forgery sweep: 700 altered codes (single-character changes, truncations, extensions, over the Digital Link
and the element string) through every door that takes a code — the scan API, the shipment scanning page, the
consumer check and EPCIS capture from a partner. None is taken for a genuine code.

A variant that still carries the original identity and a valid signature (a changed resolver host, a dropped
query parameter that is not signed) *is* the genuine code, and is counted as such, not as a forgery.
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from codes import service as codes
from codes.errors import MalformedCode
from codes.keyfiles import KeyFileStore
from codes.render import parse_code, to_element_string
from codes.signing import verify
from flow_graph.service import AlertFilter, list_alerts
from ledger.keys import is_sgtin_key, key_of
from tests.factories import GTIN, api_key, auth, seed_masterdata
from tests.security.test_entitlements import document
from traceability.models import Event, Role
from traceability.settings import Settings

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_%/?&=.:()"
VARIANTS_PER_FORM = 350


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The sweep sends ~40 variants of one code through the resolver: a per-code limit that lets each be judged."""
    return settings.model_copy(update={"public_rate_limit_code": "1000/minute"})


@pytest.fixture
def signed(session: Session, settings: Settings) -> list[str]:
    """Six of our codes as Digital Links, the first signed by a key revoked since (valid only as long as it was)."""
    seed_masterdata(session)
    store = KeyFileStore(settings.key_dir)
    codes.create_key(session=session, store=store)
    out = io.StringIO()
    codes.generate_codes(session=session, signer=codes.load_signer(session=session, store=store), gtin=GTIN,
                         lot="L2611", expiry="271231", count=6, out=out)  # fmt: skip
    session.commit()
    return out.getvalue().split()


def _genuine(text: str, originals: Mapping[str, tuple[object, ...]], session: Session) -> bool:
    """Whether a text is, in substance, one of the originals: same identity, same valid signature."""
    try:
        code = parse_code(text)
    except MalformedCode:
        return False
    fingerprint = (code.identity, code.signature, code.key_id)
    return fingerprint in originals.values() and verify(code, codes.keyring(session=session)).ok


def _variants(text: str, rng: random.Random, count: int) -> list[str]:
    out: set[str] = set()
    while len(out) < count:
        i = rng.randrange(len(text))
        kind = rng.choice(("change", "truncate", "extend", "delete"))
        if kind == "change":
            variant = text[:i] + rng.choice(ALPHABET.replace(text[i], "")) + text[i + 1 :]
        elif kind == "truncate":
            variant = text[: max(1, i)]
        elif kind == "extend":
            variant = text + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 4)))
        else:
            variant = text[:i] + text[i + 1 :]
        if variant != text:
            out.add(variant)
    return sorted(out)


def test_no_altered_code_passes_any_door(client: TestClient, session: Session, signed: list[str]) -> None:
    rng = random.Random(20261201)
    originals = {s: (c.identity, c.signature, c.key_id) for s in signed for c in [parse_code(s)]}
    forms = [signed[0], to_element_string(parse_code(signed[1]), human=True)]
    variants = [v for form in forms for v in _variants(form, rng, VARIANTS_PER_FORM)]
    assert len(variants) == 700
    forged = [v for v in variants if not _genuine(v, originals, session)]
    assert len(forged) >= 600  # the sweep is about forgeries: nearly every alteration is one

    store = auth(api_key(session, Role.store, "S-GZ-1"))
    distributor = auth(api_key(session, Role.distributor, "D-GZ"))
    accepted: dict[str, list[str]] = {"scan_api": [], "shipment_page": [], "consumer_check": [], "epcis": []}

    for start in range(0, len(forged), 100):
        batch = forged[start : start + 100]
        r = client.post("/api/v1/scans", json={"biz_step": "inspecting", "codes": batch}, headers=store)
        assert r.status_code in (200, 201), r.text
        accepted["scan_api"] += [a["code"] for a in r.json()["accepted"]]

    opened = client.post("/api/v1/shipments", json={"destination": "S-GZ-1"}, headers=distributor)
    assert opened.status_code == 201, opened.text
    page_scans = f"/app/shipments/{opened.json()['id']}/scans"
    for start in range(0, len(forged), 100):
        r = client.post(page_scans, data={"codes": "\n".join(forged[start : start + 100])}, headers=distributor)
        assert r.status_code == 200, r.text
        accepted["shipment_page"] += [a["code"] for a in r.json()["accepted"]]

    for variant in forged[::7]:  # the check page renders HTML: a tenth of the sweep keeps the test quick
        path = variant.split("://", 1)[-1].partition("/")[2] if variant.startswith("http") else None
        if path is None or not path.startswith("01/"):
            continue
        page = client.get("/" + path, headers={"Accept": "text/html", "Accept-Language": "en"})
        assert page.status_code in (200, 404, 422), page.status_code
        if page.status_code == 200 and "Genuine" in page.text and "not genuine" not in page.text.lower():
            accepted["consumer_check"].append(variant)

    known = {key_of(s) for s in signed}
    place = {"id": "https://id.gs1.org/414/6901234000047"}
    for variant in forged:
        if not variant.startswith("http"):
            continue  # EPCIS identifiers are URIs
        sale = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting", "epcList": [variant],
                "eventTime": "2026-02-05T10:00:00+08:00", "eventTimeZoneOffset": "+08:00",
                "bizLocation": place}  # fmt: skip
        r = client.post("/epcis/capture", json=document(sale), headers=store)
        if r.status_code == 202 and key_of(variant) in known:
            accepted["epcis"].append(variant)  # an issued code stored without its valid signature
    assert accepted == {door: [] for door in accepted}, {d: v[:5] for d, v in accepted.items()}
    # What EPCIS did store names codes we never issued: each is counterfeit evidence, never a genuine unit.
    stored = {key_of(e) for doc in session.exec(select(Event.document)).all() for e in _epcs(doc)}
    flagged = {a.unit_key for a in list_alerts(session=session, filters=AlertFilter())
               if a.kind == "counterfeit_suspected"}  # fmt: skip
    assert {k for k in stored - known if is_sgtin_key(k)} <= flagged


def _epcs(document_json: str) -> list[str]:
    import json

    return list(json.loads(document_json).get("epcList", []))


def test_a_code_cut_down_to_gtin_and_serial_is_refused_with_its_reason(
    client: TestClient, session: Session, signed: list[str]
) -> None:
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    bare = signed[2].split("?", 1)[0]  # the Digital Link without lot, expiry, key id and signature
    r = client.post("/api/v1/scans", json={"biz_step": "inspecting", "codes": [bare]}, headers=store)
    assert [x["reason"] for x in r.json()["rejected"]] == ["signature_missing"], r.text
    damaged = signed[3][:-3] + ("AAA" if not signed[3].endswith("AAA") else "BBB")
    r = client.post("/api/v1/scans", json={"biz_step": "inspecting", "codes": [damaged]}, headers=store)
    assert r.json()["rejected"][0]["reason"] in ("bad_signature", "malformed"), r.text
    place = {"id": "https://id.gs1.org/414/6901234000047"}
    event = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting", "epcList": [bare],
             "eventTime": "2026-02-05T10:00:00+08:00", "eventTimeZoneOffset": "+08:00",
             "bizLocation": place}  # fmt: skip
    refused = client.post("/epcis/capture", json=document(event), headers=store)
    assert refused.status_code == 422 and "signature" in refused.text
    brand = auth(api_key(session, Role.admin))  # the brand's own systems are trusted with unsigned identifiers
    assert client.post("/epcis/capture", json=document(event), headers=brand).status_code == 202


def test_revoked_key_codes_fail_everywhere(client: TestClient, session: Session, signed: list[str],
                                           settings: Settings) -> None:  # fmt: skip
    key_id = parse_code(signed[0]).key_id
    codes.revoke_key(session=session, key_id=key_id, reason="leaked")
    session.commit()
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    r = client.post("/api/v1/scans", json={"biz_step": "inspecting", "codes": signed[:2]}, headers=store)
    assert {x["reason"] for x in r.json()["rejected"]} == {"key_revoked"}, r.text
    bare = signed[0].split("?", 1)[0]
    r = client.post("/api/v1/scans", json={"biz_step": "inspecting", "codes": [bare]}, headers=store)
    assert r.json()["rejected"][0]["reason"] == "signature_missing"



