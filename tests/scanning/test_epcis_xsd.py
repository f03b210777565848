"""XML capture validated against GS1's XSD when ``epcis_xsd_dir`` names it, and capture jobs in the XML binding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from pydantic import ValidationError
from sqlmodel import Session

from tests.conftest import conformance_dir
from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_rest import document, event
from traceability.models import Role
from traceability.settings import Settings

XML = {"Content-Type": "application/xml"}
EXAMPLE = "Example_9.6.1-ObjectEvent-2020_06_18a.xml"


@pytest.fixture
def xsd_dir() -> Path:
    return conformance_dir("epcis", "XSD")


@pytest.fixture
def settings(tmp_path: Path, db_url: str, xsd_dir: Path) -> Settings:
    return Settings(db=db_url, key_dir=tmp_path / "keys", resolver="https://id.example.com", epcis_xsd_dir=xsd_dir)


@pytest.fixture
def keys(session: Session) -> dict[str, Any]:
    seed_masterdata(session)
    return {"admin": api_key(session, Role.admin), "gz": api_key(session, Role.distributor, "D-GZ"),
            "other": api_key(session, Role.distributor, "D-NJ")}  # fmt: skip


def _root_name(path: Path) -> str:
    return str(etree.QName(etree.parse(str(path)).getroot()).localname)


def test_every_xml_example_validates_and_captures_with_the_xsd_on(client: TestClient, keys: dict[str, Any]) -> None:
    examples = [p for p in sorted(conformance_dir("epcis", "XML").rglob("*.xml"))
                if _root_name(p) != "EPCISCaptureJob"]  # fmt: skip
    assert len(examples) >= 30
    for path in examples:
        resp = client.post("/epcis/capture", content=path.read_bytes(), headers={**auth(keys["admin"]), **XML})
        assert resp.status_code == 202, (path.name, resp.text)


def _broken() -> tuple[bytes, int]:
    """GS1's first example with ``bizStep`` written before ``action``: the conversion would take it (it reads
    fields by name), the XSD's sequence does not. The line of the misplaced element is returned with it."""
    text = (conformance_dir("epcis", "XML") / EXAMPLE).read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "<action>" in line)
    assert "<bizStep>" in lines[at + 1]
    lines[at], lines[at + 1] = lines[at + 1], lines[at]
    return ("\n".join(lines) + "\n").encode("utf-8"), at + 1


def test_a_document_the_xsd_refuses_is_answered_400_with_the_line_named(
    client: TestClient, keys: dict[str, Any]
) -> None:
    raw, line = _broken()
    resp = client.post("/epcis/capture", content=raw, headers={**auth(keys["admin"]), **XML, "Accept-Language": "en"})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error"] == "xsd_invalid" and body["reason"] == "xsd_invalid"
    assert body["type"] == "epcisException:ValidationException"
    assert body["line"] in (line, line + 1) and f"line {body['line']}" in body["detail"]
    assert "EPCglobal-epcis-2_0.xsd" in body["detail"] and "action" in body["detail"]
    assert body["problems"][0]["path"] == f"line {body['line']}"
    zh = client.post("/epcis/capture", content=raw, headers={**auth(keys["admin"]), **XML})
    assert zh.status_code == 400 and f"第 {body['line']} 行" in zh.json()["detail"]
    events = client.get("/epcis/events", headers=auth(keys["admin"])).json()
    assert events["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []


def test_without_the_setting_the_same_document_is_converted_and_captured(
    client: TestClient, keys: dict[str, Any], settings: Settings
) -> None:
    settings.epcis_xsd_dir = None  # the app reads the settings object it was given, per request
    raw, _ = _broken()
    resp = client.post("/epcis/capture", content=raw, headers={**auth(keys["admin"]), **XML})
    assert resp.status_code == 202, resp.text


def test_hostile_xml_is_refused_before_validation(client: TestClient, keys: dict[str, Any]) -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">&b;</epcis:EPCISDocument>')  # fmt: skip
    resp = client.post("/epcis/capture", content=bomb, headers={**auth(keys["admin"]), **XML})
    assert resp.status_code in (400, 422), resp.text
    assert "aaaaaaaaaa" not in resp.text


def test_a_folder_without_the_schema_is_refused_when_the_settings_are_read(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="EPCglobal-epcis-2_0.xsd"):
        Settings(epcis_xsd_dir=tmp_path)


# --- capture jobs in XML -------------------------------------------------------------------------------------------


def test_a_capture_job_answers_in_the_xml_binding_valid_against_the_xsd(
    client: TestClient, keys: dict[str, Any], xsd_dir: Path
) -> None:
    schema = etree.XMLSchema(etree.parse(str(xsd_dir / "EPCglobal-epcis-2_0.xsd")))
    bad = event("J2")
    del bad["eventTimeZoneOffset"]
    made = client.post("/epcis/capture", json=document(event("J1"), bad),
                       headers={**auth(keys["gz"]), "GS1-Capture-Error-Behaviour": "proceed"})  # fmt: skip
    assert made.status_code == 202, made.text
    location = made.headers["Location"]
    as_json = client.get(location, headers=auth(keys["gz"])).json()
    resp = client.get(location, headers={**auth(keys["gz"]), "Accept": "application/xml"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(resp.content)
    assert schema.validate(root.getroottree()), schema.error_log
    assert etree.QName(root).localname == "EPCISCaptureJob" and root.get("captureID") == as_json["captureID"]
    assert root.get("running") == "false" and root.get("success") == "false"
    assert root.findtext("captureErrorBehaviour") == "proceed"
    errors = root.findall("errors/error")
    assert len(errors) == 1 and "eventTimeZoneOffset" in (errors[0].findtext("detail") or "")
    trc = "{https://traceability.dev/ns/}"
    assert errors[0].findtext(f"{trc}index") == "1" and root.findtext(f"{trc}stored") == "1"
    # a job with no errors has no errors element (the XSD wants at least one error inside one)
    clean = client.post("/epcis/capture", json=document(event("J3")), headers=auth(keys["gz"]))
    xml_job = client.get(clean.headers["Location"], headers={**auth(keys["gz"]), "Accept": "application/xml"})
    ok = etree.fromstring(xml_job.content)
    assert schema.validate(ok.getroottree()) and ok.get("success") == "true" and ok.find("errors") is None
    # another party's job stays one and the same 404, in XML too
    assert client.get(location, headers={**auth(keys["other"]), "Accept": "application/xml"}).status_code == 404


def test_the_capture_job_list_is_json_only_and_says_so(client: TestClient, keys: dict[str, Any]) -> None:
    resp = client.get("/epcis/capture", headers={**auth(keys["gz"]), "Accept": "application/xml",
                                                 "Accept-Language": "en"})  # fmt: skip
    assert resp.status_code == 406, resp.text
    body = resp.json()
    assert body["error"] == "not_acceptable" and body["reason"] == "not_acceptable_json"
    assert body["type"] == "epcisException:NotAcceptableException" and "application/json" in body["detail"]
    assert client.get("/epcis/capture", headers={**auth(keys["gz"]), "Accept": "application/json"}).status_code == 200
