"""EPCIS 2.0 master data in the document header: stored on capture (JSON and XML), queryable at
``/epcis/vocabularies`` with party scope, and never overwritten by another party's key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scanning.epcis import capture_document
from scanning.epcis_masterdata import header_elements
from scanning.errors import InvalidDocument
from tests.conftest import conformance_dir
from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_rest import document, event, listed
from traceability.models import Role, VocabularyElement

LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
READ_POINT = "urn:epcglobal:epcis:vtype:ReadPoint"
DC = "urn:epc:id:sgln:6901234.00003.0"
DOCK = "urn:epc:id:sgln:6901234.00003.1"


@pytest.fixture
def keys(session: Session) -> dict[str, Any]:
    seed_masterdata(session)
    return {
        "gz": api_key(session, Role.distributor, "D-GZ"),
        "nj": api_key(session, Role.distributor, "D-NJ"),
        "admin": api_key(session, Role.admin),
        "auditor": api_key(session, Role.auditor),
    }


def with_master_data(doc: dict[str, Any], *vocabularies: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "epcisHeader": {"epcisMasterData": {"vocabularyList": list(vocabularies)}}}


def vocabulary(vtype: str, *elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": vtype, "vocabularyElementList": list(elements)}


def element(eid: str, name: str, children: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": eid, "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": name}]}
    if children:
        out["children"] = children
    return out


def post(client: TestClient, key: Any, doc: dict[str, Any], **headers: str) -> Any:
    return client.post("/epcis/capture", json=doc, headers={**auth(key), **headers})


def elements_seen(client: TestClient, key: Any, **params: Any) -> dict[tuple[str, str], dict[str, Any]]:
    resp = client.get("/epcis/vocabularies", params=params, headers=auth(key))
    assert resp.status_code == 200, resp.text
    return {(v["type"], e["id"]): e for v in resp.json()["vocabularyList"] for e in v["vocabularyElementList"]}


def test_header_master_data_is_stored_with_the_events_and_queryable_by_type_and_id(
    client: TestClient, keys: dict[str, Any]
) -> None:
    doc = with_master_data(document(event("M1")), vocabulary(LOCATION, element(DC, "广州仓", [DOCK])),
                           vocabulary(READ_POINT, element(DOCK, "1 号月台")))  # fmt: skip
    resp = post(client, keys["gz"], doc)
    assert resp.status_code == 202, resp.text
    assert resp.json()["masterDataElements"] == 2 and resp.json()["stored"] == 1
    seen = elements_seen(client, keys["gz"])
    name = {"id": "urn:epcglobal:cbv:mda#name", "attribute": "广州仓"}
    assert seen[(LOCATION, DC)] == {"id": DC, "children": [DOCK], "attributes": [name]}
    assert seen[(READ_POINT, DOCK)]["attributes"][0]["attribute"] == "1 号月台"
    assert set(elements_seen(client, keys["gz"], type=READ_POINT)) == {(READ_POINT, DOCK)}
    assert set(elements_seen(client, keys["gz"], id=DC)) == {(LOCATION, DC)}
    assert elements_seen(client, keys["gz"], id="urn:epc:id:sgln:0000000.00000.0") == {}
    # another distributor sees none of D-GZ's elements; the brand's full-view roles see them
    assert elements_seen(client, keys["nj"]) == {}
    assert set(elements_seen(client, keys["auditor"])) == {(LOCATION, DC), (READ_POINT, DOCK)}
    # the same document again: a duplicate event, the master data unchanged
    again = post(client, keys["gz"], doc)
    assert again.json()["duplicates"] == 1 and again.json()["masterDataElements"] == 0


def test_another_partys_key_cannot_overwrite_an_element_and_the_whole_document_is_refused(
    client: TestClient, session: Session, keys: dict[str, Any]
) -> None:
    assert post(client, keys["gz"], with_master_data(document(), vocabulary(LOCATION, element(DC, "广州仓")))
                ).status_code == 202  # fmt: skip
    hostile = with_master_data(document(event("N1", at="D-NJ")), vocabulary(LOCATION, element(DC, "南京仓")))
    for mode in ("rollback", "proceed"):
        resp = post(client, keys["nj"], hostile, **{"GS1-Capture-Error-Behaviour": mode, "Accept-Language": "en"})
        assert resp.status_code == 403, resp.text
        body = resp.json()
        assert body["error"] == "vocabulary_not_owned" and body["reason"] == "vocabulary_not_owned"
        assert body["elements"] == [{"path": "/epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0",
                                     "type": LOCATION, "id": DC}]  # fmt: skip
        assert "another party" in body["detail"] and body["type"] == "epcisException:SecurityException"
    zh = post(client, keys["nj"], hostile)
    assert zh.status_code == 403 and "其他参与方" in zh.json()["detail"]
    # nothing of the refused documents was stored: not the element, not the event
    assert elements_seen(client, keys["gz"])[(LOCATION, DC)]["attributes"][0]["attribute"] == "广州仓"
    assert listed(client.get("/epcis/events", headers=auth(keys["nj"]))) == []
    # the same description, unchanged, is no overwrite: accepted from anyone, and the owner stays
    same = post(client, keys["nj"], with_master_data(document(), vocabulary(LOCATION, element(DC, "广州仓"))))
    assert same.status_code == 202 and same.json()["masterDataElements"] == 0
    row = session.exec(select(VocabularyElement).where(VocabularyElement.element_id == DC)).one()
    assert row.owner_party_id == "D-GZ" and not row.owner_brand
    # the owner may change its own element; an element the other party names first is its own
    assert post(client, keys["gz"], with_master_data(document(), vocabulary(LOCATION, element(DC, "广州一仓")))
                ).json()["masterDataElements"] == 1  # fmt: skip
    assert post(client, keys["nj"], with_master_data(document(), vocabulary(LOCATION, element(DOCK, "南京仓")))
                ).status_code == 202  # fmt: skip
    assert set(elements_seen(client, keys["nj"])) == {(LOCATION, DOCK)}


def test_the_brand_may_correct_any_element_and_then_owns_it(client: TestClient, keys: dict[str, Any]) -> None:
    post(client, keys["gz"], with_master_data(document(), vocabulary(LOCATION, element(DC, "squatted"))))
    brand = post(client, keys["admin"], with_master_data(document(), vocabulary(LOCATION, element(DC, "品牌仓"))))
    assert brand.status_code == 202 and brand.json()["masterDataElements"] == 1
    # the first writer no longer owns it: its change is refused, and it no longer sees it as its own
    back = post(client, keys["gz"], with_master_data(document(), vocabulary(LOCATION, element(DC, "again"))))
    assert back.status_code == 403 and back.json()["error"] == "vocabulary_not_owned"
    assert elements_seen(client, keys["gz"]) == {}
    assert elements_seen(client, keys["auditor"])[(LOCATION, DC)]["attributes"][0]["attribute"] == "品牌仓"


@pytest.mark.parametrize(
    ("header", "path"),
    [
        ("not an object", "/epcisHeader"),
        ({"epcisMasterData": {"vocabularyList": [{"vocabularyElementList": []}]}},
         "/epcisHeader/epcisMasterData/vocabularyList/0/type"),
        ({"epcisMasterData": {"vocabularyList": [{"type": LOCATION, "vocabularyElementList": [{"attributes": []}]}]}},
         "/epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0/id"),
        ({"epcisMasterData": {"vocabularyList": [vocabulary(LOCATION, {"id": DC, "children": [DOCK, 7]})]}},
         "/epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0/children/1"),
        ({"epcisMasterData": {"vocabularyList": [vocabulary(LOCATION, {"id": "x" * 301})]}},
         "/epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0/id"),
        ({"epcisMasterData": {"vocabularyList": [vocabulary(LOCATION, {"id": DC, "attributes": [{"attribute": 1}]})]}},
         "/epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0/attributes/0/id"),
    ],
)  # fmt: skip
def test_malformed_master_data_is_refused_naming_its_field(
    client: TestClient, keys: dict[str, Any], header: Any, path: str
) -> None:
    resp = post(client, keys["gz"], {**document(event("X1")), "epcisHeader": header})
    assert resp.status_code == 422, resp.text
    assert path in [p["path"] for p in resp.json()["problems"]]
    assert listed(client.get("/epcis/events", headers=auth(keys["gz"]))) == []


def test_a_forged_page_token_and_paging_through_elements(client: TestClient, keys: dict[str, Any]) -> None:
    many = [element(f"urn:epc:id:sgln:6901234.00003.{i}", f"bay {i}") for i in range(5)]
    post(client, keys["gz"], with_master_data(document(), vocabulary(READ_POINT, *many)))
    first = client.get("/epcis/vocabularies", params={"perPage": 2}, headers=auth(keys["gz"]))
    assert first.status_code == 200 and "Link" in first.headers
    ids = [e["id"] for e in first.json()["vocabularyList"][0]["vocabularyElementList"]]
    link = first.headers["Link"].split("<")[1].split(">")[0]
    while True:
        page = client.get(link, headers=auth(keys["gz"]))
        ids += [e["id"] for v in page.json()["vocabularyList"] for e in v["vocabularyElementList"]]
        if "Link" not in page.headers:
            break
        link = page.headers["Link"].split("<")[1].split(">")[0]
    assert ids == [e["id"] for e in many]
    token = first.headers["Link"].split("nextPageToken=")[1].split(">")[0]
    # the token is bound to its caller and its filters
    assert client.get(f"/epcis/vocabularies?perPage=2&nextPageToken={token}",
                      headers=auth(keys["nj"])).status_code == 400  # fmt: skip
    assert client.get(f"/epcis/vocabularies?perPage=2&type={LOCATION}&nextPageToken={token}",
                      headers=auth(keys["gz"])).status_code == 400  # fmt: skip
    assert client.get("/epcis/vocabularies?nextPageToken=forged.x", headers=auth(keys["gz"])).status_code == 400


# --- XML ---------------------------------------------------------------------------------------------------------

MASTER_DATA_EXAMPLES = ["WithFullCombinationOfFields/masterdata_all_possible_fields.xml",
                        "Mimasu/Example-masterData.xml", "CBV/CBV-11.4-2020-06-16a.xml"]  # fmt: skip


@pytest.mark.parametrize("name", MASTER_DATA_EXAMPLES)
def test_conformance_examples_with_master_data_capture_and_their_elements_are_queryable(
    client: TestClient, keys: dict[str, Any], name: str
) -> None:
    from lxml import etree

    path = conformance_dir("epcis", "XML") / name
    root = etree.parse(str(path)).getroot()
    expected = {(v.get("type"), e.get("id")) for v in root.iter("Vocabulary") for e in v.iter("VocabularyElement")}
    assert expected
    resp = client.post("/epcis/capture", content=path.read_bytes(),
                       headers={**auth(keys["admin"]), "Content-Type": "application/xml"})  # fmt: skip
    assert resp.status_code == 202, resp.text
    seen = elements_seen(client, keys["auditor"])
    assert set(seen) == expected
    for vtype, eid in expected:  # every attribute the XML gives is stored, in order
        xml_element = next(e for v in root.iter("Vocabulary") if v.get("type") == vtype
                           for e in v.iter("VocabularyElement") if e.get("id") == eid)  # fmt: skip
        ids = [a.get("id") for a in xml_element.iter("attribute")]
        assert [a["id"] for a in seen[(vtype, eid)].get("attributes", [])] == ids
        children = [i.text.strip() for c in xml_element.iter("children") for i in c.iter("id")]
        assert seen[(vtype, eid)].get("children", []) == children


def test_an_xml_attribute_holding_elements_keeps_its_namespace(client: TestClient, keys: dict[str, Any]) -> None:
    path = conformance_dir("epcis", "XML") / "Mimasu" / "Example-masterData.xml"
    client.post("/epcis/capture", content=path.read_bytes(),
                headers={**auth(keys["admin"]), "Content-Type": "application/xml"})  # fmt: skip
    resp = client.get("/epcis/vocabularies", params={"id": "urn:epc:id:sgln:0037000.00729.0", "type": LOCATION},
                      headers=auth(keys["admin"]))  # fmt: skip
    body = resp.json()
    attributes = {a["id"]: a["attribute"] for a in body["vocabularyList"][0]["vocabularyElementList"][0]["attributes"]}
    address = attributes["http://epcis.example.com/mda/address"]
    assert address == {"example:Address": {"Street": "100 Nowhere Street", "City": "Fancy", "State": "DC",
                                           "Zip": "99999"}}  # fmt: skip
    assert {"example": "http://epcis.example.com/ns"} in body["@context"]
    assert attributes["http://epcis.example.com/mda/latitude"] == "+18.0000"


def test_header_elements_of_a_json_document_and_the_library_path(session: Session) -> None:
    seed_masterdata(session)
    doc = with_master_data(document(), vocabulary(LOCATION, element(DC, "a"), element(DC, "b")))
    found = header_elements(doc)
    assert [(e.element_id, e.attributes[0]["attribute"]) for e in found] == [(DC, "b")]  # the last description
    result = capture_document(session=session, document=doc)  # the brand's CLI: no key, brand-owned
    assert result.master_data == 1
    row = session.exec(select(VocabularyElement)).one()
    assert row.owner_brand and row.owner_party_id is None
    with pytest.raises(InvalidDocument):
        header_elements({**doc, "epcisHeader": {"epcisMasterData": []}})


def test_the_masterdata_model_file_is_where_alembic_sees_it() -> None:
    from traceability import models

    assert "VocabularyElement" in models.__all__
    assert Path(models.__file__).with_name("masterdata_vocab.py").exists()


@pytest.mark.parametrize("name", MASTER_DATA_EXAMPLES)
def test_master_data_answers_the_xml_binding_valid_against_gs1s_xsd_and_reads_back_as_its_json(
    client: TestClient, keys: dict[str, Any], name: str
) -> None:
    from lxml import etree

    from scanning.epcis_xml import load_xsd, parse_document

    path = conformance_dir("epcis", "XML") / name
    resp = client.post("/epcis/capture", content=path.read_bytes(),
                       headers={**auth(keys["admin"]), "Content-Type": "application/xml"})  # fmt: skip
    assert resp.status_code == 202, resp.text
    as_json = client.get("/epcis/vocabularies", headers=auth(keys["auditor"])).json()
    resp = client.get("/epcis/vocabularies", headers={**auth(keys["auditor"]), "Accept": "application/xml"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    tree = etree.fromstring(resp.content)
    schema = load_xsd(conformance_dir("epcis", "XSD") / "EPCglobal-epcis-masterdata-2_0.xsd")
    assert schema.validate(tree), schema.error_log
    back = parse_document(resp.content, xsd_dir=conformance_dir("epcis", "XSD"))
    vocabularies = back["epcisHeader"]["epcisMasterData"]["vocabularyList"]

    def by_element(vocabulary_list: list[dict[str, Any]], context: Any) -> dict[tuple[str, str], Any]:
        namespaces = {k: v for item in context if isinstance(item, dict) for k, v in item.items()}

        def spelt(value: Any) -> Any:  # prefixes may differ between the two; their namespaces may not
            if isinstance(value, dict):
                return {namespaces.get(k.partition(":")[0], "") + k.partition(":")[2] if ":" in k else k: spelt(v)
                        for k, v in value.items()}  # fmt: skip
            return [spelt(v) for v in value] if isinstance(value, list) else value

        return {(v["type"], e["id"]): spelt(e) for v in vocabulary_list for e in v.get("vocabularyElementList", [])}

    context = as_json["@context"] if isinstance(as_json["@context"], list) else [as_json["@context"]]
    assert by_element(vocabularies, back["@context"]) == by_element(as_json["vocabularyList"], context)


def test_master_data_in_xml_keeps_the_party_scope_and_pages(client: TestClient, keys: dict[str, Any]) -> None:
    from lxml import etree

    many = [element(f"urn:epc:id:sgln:6901234.00003.{i}", f"bay {i}") for i in range(3)]
    post(client, keys["gz"], with_master_data(document(), vocabulary(READ_POINT, *many)))
    xml = {"Accept": "application/xml"}
    other = client.get("/epcis/vocabularies", headers={**auth(keys["nj"]), **xml})
    assert other.status_code == 200
    assert list(etree.fromstring(other.content).iter("VocabularyElement")) == []  # D-NJ sees none of D-GZ's
    first = client.get("/epcis/vocabularies", params={"perPage": 2}, headers={**auth(keys["gz"]), **xml})
    ids = [e.get("id") for e in etree.fromstring(first.content).iter("VocabularyElement")]
    assert ids == [e["id"] for e in many[:2]] and "Link" in first.headers
    link = first.headers["Link"].split("<")[1].split(">")[0]
    rest = client.get(link, headers={**auth(keys["gz"]), **xml})
    assert [e.get("id") for e in etree.fromstring(rest.content).iter("VocabularyElement")] == [many[2]["id"]]
    names = [a.text for a in etree.fromstring(first.content).iter("attribute")]
    assert names == ["bay 0", "bay 1"]
