"""Labels API: a plant drives its jobs end to end; who did what is the API key's party."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from codes import service as codes_service
from codes.service import key_store
from tests.factories import GTIN, api_key, auth, seed_masterdata
from traceability.models import ApiKey, Code, LabelReprint, LabelVoid, Role
from traceability.settings import Settings


def _setup(session: Session, settings: Settings) -> dict[str, dict[str, str]]:
    seed_masterdata(session)
    codes_service.create_key(session=session, store=key_store(settings))
    return {
        "plant": auth(api_key(session, Role.plant)),
        "other_plant": auth(api_key(session, Role.plant, "WH-1")),
        "auditor": auth(api_key(session, Role.auditor)),
        "distributor": auth(api_key(session, Role.distributor)),
    }


def test_a_plant_prints_reprints_voids_and_reconciles(client: TestClient, session: Session, settings: Settings) -> None:
    h = _setup(session, settings)
    created = client.post("/api/v1/labels/jobs", headers=h["plant"], json={
        "gtin": GTIN, "lot": "L2611", "expiry": "271231", "quantity": 30, "template": "roll-50x30"})  # fmt: skip
    assert created.status_code == 201, created.text
    job = created.json()
    assert (job["party_id"], job["created_by"], job["status"], job["symbology"]) == ("PLANT-1", "PLANT-1", "created",
                                                                                      "qr")  # fmt: skip
    base = f"/api/v1/labels/jobs/{job['id']}"

    printed = client.post(f"{base}/print?format=zpl", headers=h["plant"])
    assert printed.status_code == 200, printed.text
    assert printed.headers["content-type"] == "application/vnd.zebra.zpl"
    assert printed.headers["x-label-count"] == "30" and printed.text.count("^XA^XF") == 30
    again = client.post(f"{base}/print", headers=h["plant"])
    assert again.status_code == 409 and again.json()["error"] == "print_job_state_conflict"

    serials = session.exec(select(Code.serial).where(Code.batch_id == job["batch_id"]).order_by(col(Code.id))).all()
    reprint = client.post(f"{base}/reprint", headers=h["plant"],
                          json={"code": serials[0], "reason": "torn", "format": "pdf"})  # fmt: skip
    assert reprint.status_code == 200 and reprint.content.startswith(b"%PDF")
    log = session.get(LabelReprint, int(reprint.headers["x-label-reprint-id"]))
    assert log is not None and (log.actor, log.reason, log.api_key_id) == ("PLANT-1", "torn", _key_id(session))

    void = client.post(f"{base}/void", headers=h["plant"], json={"code": serials[1], "reason": "smudged"})
    assert void.status_code == 200 and void.json()["actor"] == "PLANT-1"
    assert session.exec(select(LabelVoid)).one().reason == "smudged"

    report = client.get(f"{base}/reconciliation", headers=h["auditor"]).json()
    assert {k: report[k] for k in ("issued", "printed", "reprinted", "voided", "commissioned", "difference")} == {
        "issued": 30, "printed": 30, "reprinted": 1, "voided": 1, "commissioned": 0, "difference": 29}  # fmt: skip
    csv = client.get(f"{base}/reconciliation?format=csv", headers=h["plant"])
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == ["job_id,party_id,status,issued,printed,reprinted,voided,commissioned,difference",
                                     f"{job['id']},PLANT-1,printed,30,30,1,1,0,29"]  # no language asked: machine names
    assert csv.headers["content-language"] == "en"
    # a caller that asks for Chinese (Accept-Language, or ?lang=) reads Chinese headers and states, with a BOM
    zh_lines = ["打印任务,工厂,状态,已发码,已打印,补打,作废,已激活,差异", f"{job['id']},PLANT-1,已打印,30,30,1,1,0,29"]
    for ask in ({"headers": {**h["plant"], "Accept-Language": "zh-CN,zh;q=0.9"}},
                {"headers": h["plant"], "params": {"lang": "zh-CN"}}):  # fmt: skip
        zh = client.get(f"{base}/reconciliation", params={"format": "csv", **ask.get("params", {})},
                        headers=ask["headers"])  # fmt: skip
        assert zh.content.startswith(b"\xef\xbb\xbf") and zh.headers["content-language"] == "zh-CN"
        assert zh.content.decode("utf-8-sig").splitlines() == zh_lines
    en = client.get(f"{base}/reconciliation?format=csv&lang=en", headers={**h["plant"], "Accept-Language": "zh-CN"})
    assert en.text.splitlines()[0].startswith("job_id,party_id,") and not en.content.startswith(b"\xef")
    assert client.get(f"{base}/reconciliation?format=csv&lang=fr", headers=h["plant"]).status_code == 422
    # the print job page downloads it in the page's language
    page = client.get(f"/app/print-jobs/{job['id']}", headers={**h["plant"], "Accept-Language": "zh-CN"}).text
    assert f'href="/app/print-jobs/{job["id"]}/reconciliation.csv"' in page and "下载对账表" in page
    for lang, header in (("zh-CN", zh_lines[0]), ("en", "job_id,party_id,status,issued,printed,reprinted,voided,"
                                                         "commissioned,difference")):  # fmt: skip
        got = client.get(f"/app/print-jobs/{job['id']}/reconciliation.csv",
                         headers={**h["plant"], "Accept-Language": lang})  # fmt: skip
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        assert got.content.decode("utf-8-sig").splitlines()[0] == header
        assert "attachment" in got.headers["content-disposition"]

    closed = client.post(f"{base}/close", headers=h["plant"])
    assert closed.status_code == 200 and closed.json()["closed_by"] == "PLANT-1"
    assert [j["id"] for j in client.get("/api/v1/labels/jobs", headers=h["plant"]).json()] == [job["id"]]


def _key_id(session: Session) -> int | None:
    return session.exec(select(ApiKey.id).where(ApiKey.role == Role.plant, ApiKey.party_id == "PLANT-1")).first()


def test_another_plant_cannot_reach_the_job_and_others_are_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    h = _setup(session, settings)
    job = client.post("/api/v1/labels/jobs", headers=h["plant"], json={
        "gtin": GTIN, "quantity": 1, "level": "pallet", "template": "roll-100x150"}).json()  # fmt: skip
    base = f"/api/v1/labels/jobs/{job['id']}"
    void = {"code": "x", "reason": "y"}
    calls = [
        ("GET", base, None),
        ("POST", f"{base}/print", None),
        ("GET", f"{base}/reconciliation", None),
        ("POST", f"{base}/void", void),
        ("POST", f"{base}/reprint", void),
        ("POST", f"{base}/close", None),
    ]
    for method, url, body in calls:
        assert client.request(method, url, headers=h["other_plant"], json=body).status_code == 404
    assert client.post(f"{base}/print", headers=h["distributor"]).status_code == 403
    assert client.get("/api/v1/labels/jobs", headers=h["other_plant"]).json() == []


def test_bad_requests_name_the_problem(client: TestClient, session: Session, settings: Settings) -> None:
    h = _setup(session, settings)
    sheet = client.post("/api/v1/labels/jobs", headers=h["plant"], json={
        "gtin": GTIN, "quantity": 2, "template": "a4-3x8", "symbology": "datamatrix"}).json()  # fmt: skip
    zpl = client.post(f"/api/v1/labels/jobs/{sheet['id']}/print?format=zpl", headers=h["plant"])
    assert zpl.status_code == 422 and zpl.json()["error"] == "label_template_mismatch"
    unknown = client.post("/api/v1/labels/jobs", headers=h["plant"], json={"gtin": GTIN, "quantity": 1,
                                                                         "template": "nope"})  # fmt: skip
    assert unknown.status_code == 404 and "a4-3x8" in unknown.json()["detail"]
    assert unknown.json()["detail"].startswith("没有标签模板 'nope'")  # Chinese by default (issue 17)
    english = client.post("/api/v1/labels/jobs", headers={**h["plant"], "Accept-Language": "en"},
                          json={"gtin": GTIN, "quantity": 1, "template": "nope"})  # fmt: skip
    assert english.json()["detail"].startswith("no label template 'nope'; templates: a4-3x8")
    assert english.json()["error"] == unknown.json()["error"] == "unknown_label_template"
    assert english.json()["template"] == "nope"
    zpl_en = client.post(f"/api/v1/labels/jobs/{sheet['id']}/print?format=zpl",
                         headers={**h["plant"], "Accept-Language": "en"})  # fmt: skip
    assert "use a roll template for ZPL" in zpl_en.json()["detail"] and "ZPL 请用卷式模板" in zpl.json()["detail"]
    templates = client.get("/api/v1/labels/templates", headers=h["distributor"]).json()
    assert {t["id"]: t["formats"] for t in templates}["roll-50x30"] == ["pdf", "zpl"]
