"""The lines a command prints for people follow the terminal's language (``cli.context.terminal_language``): a
clerk whose terminal speaks Chinese reads them in Chinese, with counts grouped; an unset locale (CI, cron, scripts)
keeps every English line as it always was, byte for byte. What scripts read (a bare id, JSON) is the same in both."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app
from tests.factories import masterdata_doc
from tests.flow_graph.helpers import doc, unit
from tests.flow_graph.test_service import cross_territory
from tests.settlement.scenario import P1, event, units
from tests.words import _catalogues as module_catalogues
from tests.words import fields, literal_catalogues
from traceability.i18n import SUPPORTED, Catalogue

ROOT = Path(__file__).resolve().parents[2]
HAN = re.compile(r"[\u4e00-\u9fff]")
LOCALE = ("TRACEABILITY_LANG", "LC_ALL", "LC_MESSAGES", "LANG")

Run = Callable[..., Any]


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Callable[[str | None], Run]]:
    """A database with the master data; ``speaking(lang)`` runs commands with the terminal in ``lang`` (None: no
    locale at all)."""
    runner = CliRunner()
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]

    def speaking(lang: str | None) -> Run:
        env: dict[str, str | None] = dict.fromkeys(LOCALE)
        env |= {"TRACEABILITY_LANG": lang, "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"), "COLUMNS": "400"}

        def run(*args: str, ok: bool = True) -> Any:
            result = runner.invoke(app, [*db, *args], env=env, catch_exceptions=False)
            if ok:
                assert result.exit_code == 0, (args, result.output)
            return result

        return run

    (tmp_path / "md.json").write_text(json.dumps(masterdata_doc()), encoding="utf-8")
    return tmp_path, speaking


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _day_in_april(tmp_path: Path) -> Path:
    """Two units made and shipped in April 2026: a period that may be locked."""
    sold = units(P1, "K", 2)
    events = [event("commissioning", sold, "PLANT-1", "2026-04-01T08:00:00+08:00", action="ADD"),
              event("shipping", sold, "PLANT-1", "2026-04-02T08:00:00+08:00", to="D-GZ")]  # fmt: skip
    path = tmp_path / "april.json"
    path.write_text(json.dumps({"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-04-03T00:00:00Z",
                                "epcisBody": {"eventList": events}}), encoding="utf-8")  # fmt: skip
    return path


def _drive(tmp_path: Path, run: Run) -> dict[str, Any]:
    """Every command whose summary is checked below, once, in the order a plant, a distributor and finance use them."""
    out: dict[str, Any] = {}
    out["import"] = run("masterdata", "import", str(tmp_path / "md.json"))
    out["keys create"] = run("codes", "keys", "create")
    out["keys rotate"] = run("codes", "keys", "rotate", "--key-id", "K2")
    out["export-public"] = run("codes", "keys", "export-public", "--out", str(tmp_path / "ring.json"))
    out["generate"] = run("codes", "generate", "--gtin", P1, "--count", "1200", "--out", str(tmp_path / "codes.txt"),
                          "--party", "PLANT-1")  # fmt: skip
    codes = (tmp_path / "codes.txt").read_text(encoding="utf-8").split()
    out["verify"] = run("codes", "verify", codes[0])
    out["sscc"] = run("codes", "sscc", "--company-prefix", "0690123", "--party", "PLANT-1")
    sscc = out["sscc"].stdout.strip()
    out["scan"] = run("scan", *codes[:3], "--party", "PLANT-1", "--step", "commissioning")
    out["aggregate"] = run("codes", "aggregate", sscc, *codes[:2], "--party", "PLANT-1")
    out["disaggregate"] = run("codes", "disaggregate", sscc, "--party", "PLANT-1")
    run("scan", *codes[:2], "--party", "PLANT-1", "--step", "shipping", "--destination", "D-GZ")
    shipment = run("shipment", "open", "--party", "D-GZ", "--destination", "S-GZ-1").stdout.strip()
    out["shipment id"] = shipment
    run("shipment", "scan", shipment, *codes[:2], "--party", "D-GZ")
    out["shipment close"] = run("shipment", "close", shipment, "--party", "D-GZ")
    out["token"] = run("apikeys", "create", "--role", "store", "--party", "S-GZ-1").stdout
    out["apikeys revoke"] = run("apikeys", "revoke", "1")
    job = run("labels", "create", "--party", "PLANT-1", "--gtin", P1, "--quantity", "4", "--template", "a4-3x8",
              "--by", "alice")  # fmt: skip
    out["labels create"] = job
    job_id = job.stdout.strip()
    out["labels print"] = run("labels", "print", job_id, "--out", str(tmp_path / "job.pdf"), "--by", "alice")
    serial = sqlite3.connect(tmp_path / "cli.db").execute(
        "SELECT serial FROM code WHERE batch_id = (SELECT batch_id FROM print_job WHERE id = ?) ORDER BY id",
        (job_id,)).fetchall()[1][0]  # fmt: skip
    out["labels void"] = run("labels", "void", job_id, serial, "--reason", "smudged", "--by", "bob")
    out["labels reconcile"] = run("labels", "reconcile", job_id, "--out", str(tmp_path / "rec.csv"))
    out["labels close"] = run("labels", "close", job_id, "--by", "carol")
    out["capture"] = run("epcis", "capture", str(_day_in_april(tmp_path)))
    out["export"] = run("epcis", "export", "--out", str(tmp_path / "all.jsonld"))
    out["chain"] = run("epcis", "verify-chain")
    out["checkpoint"] = run("epcis", "checkpoint", "--out", str(tmp_path / "cp.json"))
    out["chain since"] = run("epcis", "verify-chain", "--checkpoint", str(tmp_path / "cp.json"))
    out["lock"] = run("settlement", "lock", "--period", "2026-04")
    out["lock checkpoint"] = run("settlement", "checkpoint", "--period", "2026-04", "--out", str(tmp_path / "l.json"))
    out["members"] = run("members", "list")
    out["tasks"] = run("tasks", "list", "--date", "2026-04-10")
    out["alerts"] = run("alerts", "list")
    out["keys revoke"] = run("codes", "keys", "revoke", "K1", "--reason", "test")
    return out


def _chinese(line: str, *english: str) -> None:
    assert HAN.search(line) and not any(e in line for e in english), line


def test_a_chinese_terminal_reads_every_summary_in_chinese(world) -> None:
    tmp_path, speaking = world
    out = _drive(tmp_path, speaking("zh-CN"))

    def err(step: str) -> list[str]:
        return _lines(out[step].stderr)

    def said(step: str) -> str:
        return str(out[step].stdout).strip()

    assert err("import") == [f"已导入 {tmp_path / 'md.json'}"]
    assert said("keys create") == f"已创建 ed25519 密钥 K1，存于 {tmp_path / 'keys'}"
    assert said("keys rotate") == "已轮换：K2 现为启用的 ed25519 密钥"
    assert err("export-public") == [f"已写入 {tmp_path / 'ring.json'}"]
    assert err("generate")[-1] == f"已签发 1,200 个码，密钥 K2（批次 1）→ {tmp_path / 'codes.txt'}"
    assert err("generate")[0].startswith("签名中 ")  # the progress bar's label
    verdict, identity, issued = _lines(out["verify"].stdout)
    assert verdict == "真品 签名有效（密钥 K2）"
    assert identity.startswith(f"GTIN {P1}  序列号 ") and "批号 -  有效期 -  密钥 K2" in identity
    assert issued == "已发放：是；状态：generated"
    assert err("scan") == ["接受 3 个，拒绝 0 个"]
    sscc = said("sscc")
    assert said("aggregate") == f"已将 2 件装入 {sscc}"
    assert said("disaggregate") == f"已从 {sscc} 拆出 2 件"
    assert said("shipment close").startswith(f"发货单 {out['shipment id']} 已关闭：事件 urn:uuid:")
    assert said("apikeys revoke") == "已吊销 API 密钥 1"
    assert err("labels create")[-1] == "已创建打印任务 1：4 张单品标签，模板 a4-3x8"
    assert err("labels create")[0].startswith("生成码 ")
    assert err("labels print")[0].startswith("打印 PDF ")
    assert err("labels print")[-1] == f"已打印任务 1 的 4 张标签 → {tmp_path / 'job.pdf'}"
    assert re.fullmatch(r"已作废任务 1 的码 \d+（原状态 printed）", err("labels void")[0])
    assert err("labels reconcile") == [f"已写入 {tmp_path / 'rec.csv'}"]
    assert err("labels close") == ["已关闭打印任务 1"]
    assert err("capture") == [f"{tmp_path / 'april.json'}：已存储 2 个事件，0 个已存在，0 个被拒"]
    events = len(json.loads((tmp_path / "all.jsonld").read_text(encoding="utf-8"))["epcisBody"]["eventList"])
    assert err("export") == [f"已将 {events} 个事件写入 {tmp_path / 'all.jsonld'}"]
    assert said("chain") == f"哈希链完好：共 {events} 个事件；销售与进货记录与事件一致"
    signed = json.loads((tmp_path / "cp.json").read_text(encoding="utf-8"))
    assert said("checkpoint") == (f"已签署第 {signed['seq']} 个事件（{signed['head'][:16]}…）的检查点，签署于 "
                                  f"{signed['at']}：{tmp_path / 'cp.json'}")  # fmt: skip
    assert said("chain since") == (f"哈希链完好：共 {events} 个事件，自 {signed['at']} 的检查点（第 {signed['seq']} "
                                   "个事件）以来未被改动；销售与进货记录与事件一致")  # fmt: skip
    locked, chain = err("lock")
    assert re.fullmatch(r"已锁定 2026-04：(应付 CNY [\d.]+(，CNY [\d.]+)*|无应付款项)", locked), locked
    assert re.fullmatch(r"链检查点：第 \d+ 个事件，链头 [0-9a-f]{64}，签署于 \S+（密钥 chain）", chain), chain
    assert said("lock checkpoint").startswith("2026-04 锁定时的检查点：第 ")
    assert err("members") == ["显示 0 位会员，共 0 位"]
    assert err("tasks") == ["共 0 项任务"]
    assert err("alerts")[-1] == "共 0 条预警"
    assert said("keys revoke") == "已吊销密钥 K1"
    for step, english in [("generate", "issued"), ("scan", "accepted"), ("labels create", "labels on"),
                          ("capture", "stored"), ("lock", "locked")]:  # fmt: skip
        _chinese(err(step)[-1], english)
    for step, english in [("keys create", "created"), ("chain", "intact"), ("shipment close", "closed"),
                          ("apikeys revoke", "revoked"), ("lock checkpoint", "checkpoint of")]:  # fmt: skip
        _chinese(said(step), english)


def test_without_a_locale_every_summary_is_the_english_it_always_was(world) -> None:
    tmp_path, speaking = world
    out = _drive(tmp_path, speaking(None))

    def err(step: str) -> list[str]:
        return _lines(out[step].stderr)

    def said(step: str) -> str:
        return str(out[step].stdout).strip()

    assert err("import") == [f"imported {tmp_path / 'md.json'}"]
    assert said("keys create") == f"created ed25519 key K1 in {tmp_path / 'keys'}"
    assert said("keys rotate") == "rotated: K2 is now the active ed25519 key"
    assert err("export-public") == [f"wrote {tmp_path / 'ring.json'}"]
    assert err("generate")[-1] == f"issued 1200 codes under key K2 (batch 1) → {tmp_path / 'codes.txt'}"
    assert err("generate")[0].startswith("signing ")
    verdict, identity, issued = _lines(out["verify"].stdout)
    assert verdict == "GENUINE signature verified with key 'K2'"
    assert identity.startswith(f"GTIN {P1}  serial ") and "lot -  expiry -  key K2" in identity
    assert issued == "issued: yes; status: generated"
    assert err("scan") == ["3 accepted, 0 rejected"]
    sscc = said("sscc")
    assert said("aggregate") == f"packed 2 item(s) into {sscc}"
    assert said("disaggregate") == f"unpacked 2 item(s) from {sscc}"
    assert said("shipment close").startswith(f"shipment {out['shipment id']} closed: event urn:uuid:")
    assert said("apikeys revoke") == "revoked key 1"
    assert err("labels create")[-1] == "created print job 1: 4 unit labels on a4-3x8"
    assert err("labels create")[0].startswith("drawing codes ")
    assert err("labels print")[0].startswith("printing PDF ")
    assert err("labels print")[-1] == f"printed 4 labels of job 1 → {tmp_path / 'job.pdf'}"
    assert re.fullmatch(r"voided code \d+ of job 1 \(was printed\)", err("labels void")[0])
    assert err("labels reconcile") == [f"wrote {tmp_path / 'rec.csv'}"]
    assert err("labels close") == ["closed print job 1"]
    assert err("capture") == [f"{tmp_path / 'april.json'}: 2 stored, 0 already present, 0 refused"]
    events = len(json.loads((tmp_path / "all.jsonld").read_text(encoding="utf-8"))["epcisBody"]["eventList"])
    assert err("export") == [f"wrote {events} events to {tmp_path / 'all.jsonld'}"]
    assert said("chain") == f"chain intact: {events} events; sales and purchases match their events"
    signed = json.loads((tmp_path / "cp.json").read_text(encoding="utf-8"))
    assert said("checkpoint") == (f"checkpoint of event {signed['seq']} ({signed['head'][:16]}…) signed at "
                                  f"{signed['at']}: {tmp_path / 'cp.json'}")  # fmt: skip
    assert said("chain since") == (f"chain intact: {events} events, unchanged since the checkpoint of {signed['at']} "
                                   f"(event {signed['seq']}); sales and purchases match their events")  # fmt: skip
    locked, chain = err("lock")
    assert re.fullmatch(r"locked 2026-04: (CNY [\d.]+(, CNY [\d.]+)*|nothing payable)", locked), locked
    assert re.fullmatch(r"chain checkpoint: event \d+, head [0-9a-f]{64}, signed \S+ \(key chain\)", chain), chain
    assert said("lock checkpoint").startswith("checkpoint of 2026-04's lock: event ")
    assert err("members") == ["0 of 0 member(s)"]
    assert err("tasks") == ["0 task(s)"]
    assert err("alerts")[-1] == "0 alert(s)"
    assert said("keys revoke") == "revoked K1"
    said_to_people = "".join(r.stderr for r in out.values() if not isinstance(r, str))  # stdout has names in JSON
    assert not HAN.search(said_to_people), "a Chinese word in an English terminal"


def test_the_auditors_lines_in_both_languages(world) -> None:
    """A unit's trail, a distributor's leaks and the graph export: the unit, the alert and the distributor stay as
    they are (and styled), the words around them follow the terminal."""
    tmp_path, speaking = world
    zh, en = speaking("zh-CN"), speaking(None)
    (tmp_path / "events.json").write_text(json.dumps(doc(*cross_territory())), encoding="utf-8")
    zh("masterdata", "import", str(tmp_path / "md.json"))
    zh("epcis", "capture", str(tmp_path / "events.json"))
    chinese, english = _lines(zh("trail", unit(1)).stdout), _lines(en("trail", unit(1)).stdout)
    assert chinese[0] == f"{unit(1)}  状态 sold，持有方 S-NJ-1，非品牌方签发"
    assert english[0] == f"{unit(1)}  status sold, held by S-NJ-1, not issued by the brand"
    assert any(line.startswith("out_of_territory，地点 S-NJ-1（open）：") for line in chinese), chinese
    assert any(line.startswith("out_of_territory at S-NJ-1 (open): ") for line in english), english
    assert _lines(zh("graph", "leaks", "D-GZ").stdout)[0] == "D-GZ：窜货 1 件，预警 2 条"
    assert _lines(en("graph", "leaks", "D-GZ").stdout)[0] == "D-GZ: 1 diverted unit(s), 2 alert(s)"
    graph = tmp_path / "g.json"
    written = _lines(zh("graph", "export", "--format", "json", "--out", str(graph)).stderr)
    assert re.fullmatch(rf"已写入 {re.escape(str(graph))}：\d+ 个参与方、\d+ 条流向、2 件货品", written[0]), written
    written = _lines(en("graph", "export", "--format", "json", "--out", str(graph)).stderr)
    assert re.fullmatch(rf"wrote \d+ parties, \d+ lanes, 2 units to {re.escape(str(graph))}", written[0]), written
    assert _lines(zh("graph", "export", "--out", str(tmp_path / "g.graphml")).stderr) == [
        f"已写入 {tmp_path / 'g.graphml'}：GraphML"]


def test_what_scripts_read_is_the_same_in_both_languages(world) -> None:
    """A bare id, a token's shape, the JSON of a scan or a lock: never worded."""
    tmp_path, speaking = world
    zh, en = speaking("zh-CN"), speaking("en")
    zh("masterdata", "import", str(tmp_path / "md.json"))
    zh("codes", "keys", "create")
    assert zh("codes", "sscc", "--company-prefix", "0690123").stdout.strip().isdigit()
    assert zh("shipment", "open", "--party", "D-GZ", "--destination", "S-GZ-1").stdout == "1\n"
    capture = str(_day_in_april(tmp_path))
    first = json.loads(zh("epcis", "capture", capture).stdout)
    again = json.loads(en("epcis", "capture", capture).stdout)
    assert (first["stored"], again["duplicates"]) == (2, 2) and set(first) == set(again)
    job = zh("labels", "create", "--party", "PLANT-1", "--gtin", P1, "--quantity", "2", "--template", "a4-3x8")
    assert job.stdout == "1\n"
    assert json.loads(zh("labels", "reconcile", "1", "--format", "json").stdout)[0]["issued"] == 2


def test_an_interrupted_command_says_so_in_the_terminals_language(monkeypatch, capsys) -> None:
    from cli import main as root

    def interrupted(**_: Any) -> None:
        raise typer.Abort()

    monkeypatch.setattr(root, "app", interrupted)
    for lang, expected in (("zh-CN", "已中止"), ("en", "aborted")):
        monkeypatch.setenv("TRACEABILITY_LANG", lang)
        monkeypatch.setattr(sys, "argv", ["traceability"])
        with pytest.raises(SystemExit) as done:
            root.main()
        assert done.value.code == 130 and capsys.readouterr().err.strip() == expected


# --- the words themselves ----------------------------------------------------------------------------------------
# Written for both states of the words: dicts in the modules (``_WORDS = {"en": ..., "zh-CN": ...}``) until
# scripts/fold_catalogues.py moves them into the .po files, ``_WORDS: Catalogue = messages("cli.x")`` after.


def _catalogues() -> Iterator[tuple[Path, dict[str, Catalogue]]]:
    """Each cli module with its catalogues by variable, literal or folded."""
    for path in sorted((ROOT / "cli").glob("*.py")):
        yield path, module_catalogues(ast.parse(path.read_text(encoding="utf-8")))


def test_every_cli_catalogue_has_both_languages_with_the_same_keys_and_fields() -> None:
    found = {f"{path.name}:{name}": catalogue for path, named in _catalogues() for name, catalogue in named.items()}
    assert len(found) >= 14, sorted(found)
    for where, catalogue in found.items():
        assert set(catalogue) == set(SUPPORTED), where
        assert set(catalogue["en"]) == set(catalogue["zh-CN"]), where
        for key, english in catalogue["en"].items():
            chinese = catalogue["zh-CN"][key]
            assert fields(english) == fields(chinese), (where, key)
            assert chinese.strip() and english.strip(), (where, key)
            words = re.sub(r"\{[^}]*\}", "", chinese)  # a separator ("，") or a code ("GTIN") needs no Han
            assert HAN.search(chinese) or not re.search(r"[a-z]{3,}", words), (where, key, chinese)


def test_the_fold_script_sees_every_cli_message_dict() -> None:
    """What ``scripts/fold_catalogues.py`` will move into the .po files: exactly the dicts the commands read."""
    spec = importlib.util.spec_from_file_location("fold_catalogues", ROOT / "scripts" / "fold_catalogues.py")
    assert spec is not None and spec.loader is not None
    fold = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fold)
    folded = {f"{path.relative_to(ROOT)}:{name}" for path, name, _, _ in fold.find_dicts()
              if path.relative_to(ROOT).parts[0] == "cli"}  # fmt: skip
    written = set(dict(literal_catalogues("cli")))
    assert folded == written, folded ^ written


def test_every_key_a_command_prints_is_worded_and_given_its_fields() -> None:
    checked = 0
    for path, named in _catalogues():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "wording" and node.args
                    and isinstance(node.args[0], ast.Name) and node.args[0].id in named):  # fmt: skip
                continue
            where, english, key = f"{path.name}:{node.lineno}", named[node.args[0].id]["en"], node.args[1]
            given = {k.arg for k in node.keywords}
            if isinstance(key, ast.Constant):
                assert key.value in english, where
                assert None in given or fields(english[str(key.value)]) <= given, (where, key.value, given)
            elif isinstance(key, ast.JoinedStr):  # f"level.{level.value}": some key of that family
                prefix = key.values[0].value if isinstance(key.values[0], ast.Constant) else ""
                assert any(k.startswith(str(prefix)) for k in english), where
            else:  # "issued_yes" if issued else "issued_no"
                options = [n.value for n in ast.walk(key) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                assert options and all(o in english for o in options), where
            checked += 1
    assert checked >= 40
