"""The auditor's commands on a real SQLite file: the alert contract as JSON, CSV and a table, trails, exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.factories import masterdata_doc
from tests.flow_graph.helpers import doc, unit
from tests.flow_graph.test_service import cross_territory


def test_auditor_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]

    def run(*args: str) -> str:
        result = runner.invoke(app, [*db, *args], catch_exceptions=False, env={"COLUMNS": "300"})
        assert result.exit_code == 0, result.output
        return result.stdout

    (tmp_path / "md.json").write_text(json.dumps(masterdata_doc()), encoding="utf-8")
    (tmp_path / "events.json").write_text(json.dumps(doc(*cross_territory())), encoding="utf-8")
    run("masterdata", "import", str(tmp_path / "md.json"))
    run("epcis", "capture", str(tmp_path / "events.json"))

    listed = json.loads(run("alerts", "list", "--format", "json"))
    assert sorted((a["kind"], a["epc"], a["party"], a["responsible_distributor"], a["status"]) for a in listed) == [
        ("out_of_territory", unit(1), "S-NJ-1", "D-GZ", "open"),
        ("unauthorized_channel", unit(1), "S-NJ-1", "D-GZ", "open"),
    ]  # fmt: skip
    assert all(isinstance(a["event_ids"], list) and a["event_ids"] for a in listed)
    rows = list(csv.DictReader(io.StringIO(run("alerts", "list", "--format", "csv", "--kind", "out_of_territory"))))
    assert [(r["kind"], r["territory"]) for r in rows] == [("out_of_territory", "CN-32-01")]
    assert "unauthorized_channel" in run("alerts", "list", "--distributor", "D-GZ", "--period", "2026-04")

    alert_id = str(rows[0]["id"])
    run("alerts", "update", alert_id, "--status", "investigating", "--assignee", "Li Wei", "--note", "asked")
    shown = json.loads(run("alerts", "show", alert_id))
    assert shown["alert"]["status"] == "investigating"
    history = [(h["action"], h["text"]) for h in shown["history"]]
    assert history == [("status", "asked"), ("assign", "assigned to Li Wei")]
    assert json.loads(run("alerts", "list", "--format", "json", "--status", "investigating"))[0]["id"] == int(alert_id)
    assert json.loads(run("alerts", "reevaluate"))["unchanged"] == 2
    walked = runner.invoke(app, [*db, "alerts", "reevaluate", "--partition", "1"], catch_exceptions=False,
                           env={"TRACEABILITY_LANG": "en"})  # fmt: skip
    assert walked.exit_code == 0 and json.loads(walked.stdout)["unchanged"] == 2
    done, total = walked.stderr.split("re-evaluating: ")[-1].split(" codes")[0].split(" / ")
    assert done == total and int(total.replace(",", "")) >= 1  # every code, reported as the walk ends
    assert f"{total} codes evaluated: 0 raised, 0 updated, 0 withdrawn, 0 reopened, 2 unchanged" in walked.stderr
    in_chinese = runner.invoke(app, [*db, "alerts", "reevaluate"], catch_exceptions=False, env={"LANG": "zh_CN.UTF-8",
                               "TRACEABILITY_LANG": "", "LC_ALL": "", "LC_MESSAGES": ""})  # fmt: skip
    assert f"正在重新评估：{total} / {total} 个码" in in_chinese.stderr
    assert f"已评估 {total} 个码：新增 0，更新 0，撤回 0，重新打开 0，不变 2" in in_chinese.stderr

    trail = json.loads(run("trail", unit(1), "--format", "json"))
    assert [s["biz_step"] for s in trail["steps"]][0] == "commissioning" and len(trail["alerts"]) == 2
    assert "retail_selling" in run("trail", unit(1))
    assert json.loads(run("graph", "leaks", "D-GZ", "--format", "json"))["diverted_units"] == 1
    assert json.loads(run("graph", "top-leaks", "--format", "json"))[0]["distributor"] == "D-GZ"
    run("graph", "export", "--format", "json", "--out", str(tmp_path / "g.json"))
    assert json.loads((tmp_path / "g.json").read_text())["units"] == 2
    run("graph", "export", "--out", str(tmp_path / "g.graphml"))
    assert (tmp_path / "g.graphml").read_text().startswith("<?xml")
