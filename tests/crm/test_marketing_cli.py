"""The marketing commands under ``traceability members`` on a real SQLite file: a campaign and its points, a grant,
a reward redeemed and then refused, the top-10, prospects, the return and the exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from crm.errors import CampaignExists, NotEnoughPoints
from tests.crm.test_cli import _sale, cli  # noqa: F401 - the fixture and the sale builder


def test_campaigns_points_rewards_prospects_and_return_through_the_cli(cli, tmp_path: Path) -> None:  # noqa: F811
    made = json.loads(cli("members", "campaigns", "create", "--code", "SPRING", "--name", "春季", "--from",
                          "2026-04-01", "--to", "2026-04-30", "--territory", "CN-44", "--multiplier", "3"))  # fmt: skip
    assert made["extra_per_unit"] == "2.00"
    with pytest.raises(CampaignExists):  # the root prints it as one line and exits 1 (tests/cli)
        cli("members", "campaigns", "create", "--code", "SPRING", "--name", "again", "--from", "2026-04-01",
            "--to", "2026-04-30", "--bonus", "1")  # fmt: skip
    cli("members", "register", "--store", "S-GZ-1", "--phone", "13800138000", "--source", "campaign:SPRING")
    cli("epcis", "capture", str(_sale(tmp_path, "13800138000", "2026-04-02T10:00:00Z", 3, "81")))
    assert json.loads(cli("members", "points", "--phone", "13800138000"))["points"] == 3 + 6
    granted = json.loads(cli("members", "grant", "--phone", "13800138000", "--points", "4", "--reason", "亲子活动",
                             "--campaign", "SPRING"))  # fmt: skip
    assert granted["granted_by"] == "admin:BRAND (cli)"
    cli("members", "rewards", "add", "--code", "MUG", "--name", "水杯", "--points", "10")
    assert [r["code"] for r in json.loads(cli("members", "rewards", "list", "--format", "json"))] == ["MUG"]
    done = json.loads(cli("members", "rewards", "redeem", "MUG", "--phone", "13800138000", "--store", "S-GZ-1"))
    assert done["balance"] == 13 - 10
    with pytest.raises(NotEnoughPoints):
        cli("members", "rewards", "redeem", "MUG", "--phone", "13800138000", "--store", "S-GZ-1")
    top = json.loads(cli("members", "top10", "--year", "2026"))
    assert [(t["regular"], t["campaign"], t["granted"], t["earned"]) for t in top] == [(3, 6, 4, 13)]
    later = "2099-12-31"  # she registered, and was granted points, on the machine's today
    ret = json.loads(cli("members", "return", "--by", "campaign", "--as-of", later))
    assert [(r["members_gained"], r["gained_units"], r["points_cost"]) for r in ret] == [(1, 3, 10)]
    sources = json.loads(cli("members", "return", "--by", "source", "--as-of", later))
    assert [(r["source"], r["points_cost"]) for r in sources] == [("campaign:SPRING", 13)]
    handed = json.loads(cli("members", "prospects", "add", "--store", "S-NJ-1", "--phone", "13900139000",
                            "--phone", "13800138000", "--phone", "12"))  # fmt: skip
    assert [i["status"] for i in handed["items"]] == ["added", "already_member", "invalid_phone"]
    report = json.loads(cli("members", "prospects", "report", "--month", handed["month"]))
    assert {r["store"]: r["handed_in"] for r in report} == {"S-GZ-1": 0, "S-NJ-1": 1}
    out = tmp_path / "return.xlsx"
    cli("members", "export", "return-campaigns", "--as-of", later, "--format", "xlsx", "--out", str(out))
    sheet = load_workbook(out).active
    assert [c.value for c in sheet[1]][:3] == ["活动", "姓名", "开始日期"]
    assert sheet["A2"].value == "SPRING"
    csv_out = tmp_path / "top.csv"
    cli("members", "export", "top10", "--year", "2026", "--lang", "en", "--out", str(csv_out))
    assert csv_out.read_text(encoding="utf-8-sig").splitlines()[0].startswith("rank,member,store")
    cli("members", "export", "top10", "--out", str(tmp_path / "x.csv"), code=2)  # no --year
    cli("members", "campaigns", "end", "SPRING", "--on", "2026-04-10")
    assert json.loads(cli("members", "campaigns", "list", "--format", "json"))[0]["ends_on"] == "2026-04-10"
