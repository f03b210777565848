"""``traceability epcis validate`` and the XSD check of ``epcis capture``: every problem of a file reported, in the
user's language, a non-zero exit and never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from scanning.epcis_check import check_file
from tests.conftest import conformance_dir
from tests.scanning.test_epcis_xsd import _broken

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _events_in(path: Path) -> int:
    names = {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
    return sum(1 for e in etree.parse(str(path)).iter() if isinstance(e.tag, str) and etree.QName(e).localname in names
               and etree.QName(e).namespace is None)  # fmt: skip


def test_every_conformance_xml_example_is_valid_against_the_xsd_with_all_its_events() -> None:
    xsd = conformance_dir("epcis", "XSD")
    examples = [p for p in sorted(conformance_dir("epcis", "XML").rglob("*.xml"))
                if etree.QName(etree.parse(str(p)).getroot()).localname != "EPCISCaptureJob"]  # fmt: skip
    assert len(examples) >= 30
    for path in examples:
        report = check_file(path, path.read_bytes(), xsd_dir=xsd, schema_path=None, lang="en")
        assert report.ok and report.xsd_checked, (path.name, report.problems)
        assert report.events == _events_in(path), path.name


def test_the_xsd_finds_what_the_conversion_takes_and_names_its_line(tmp_path: Path) -> None:
    raw, line = _broken()
    path = tmp_path / "broken.xml"
    without = check_file(path, raw, xsd_dir=None, schema_path=None, lang="en")
    assert without.ok and not without.xsd_checked  # the conversion reads fields by name: only the XSD sees it
    report = check_file(path, raw, xsd_dir=conformance_dir("epcis", "XSD"), schema_path=None, lang="en")
    assert not report.ok
    assert report.problems[0].path in (f"line {line}", f"line {line + 1}") and "action" in report.problems[0].reason
    zh = check_file(path, raw, xsd_dir=conformance_dir("epcis", "XSD"), schema_path=None, lang="zh-CN")
    assert zh.problems[0].path.startswith("第 ") and zh.problems[0].path.endswith(" 行")


def test_every_problem_of_every_event_is_reported(tmp_path: Path) -> None:
    good = {"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2026-01-01T00:00:00Z",
            "eventTimeZoneOffset": "+00:00", "epcList": ["urn:epc:id:sgtin:6901234.000010.1"]}  # fmt: skip
    events = [good, {**good, "action": "LOOK"}, good, {**good, "eventTimeZoneOffset": "CST"}]
    doc = {"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2026-01-01T00:00:00Z", "epcisBody": {"eventList": events}}  # fmt: skip
    path = tmp_path / "doc.json"
    report = check_file(path, json.dumps(doc).encode(), xsd_dir=None, schema_path=None, lang="en")
    assert report.events == 4
    assert [p.path for p in report.problems] == ["/epcisBody/eventList/1", "/epcisBody/eventList/3"]
    assert "action" in report.problems[0].reason and "eventTimeZoneOffset" in report.problems[1].reason
    assert check_file(path, json.dumps({**doc, "epcisBody": {"eventList": [good]}}).encode(), xsd_dir=None,
                      schema_path=None, lang="en").ok  # fmt: skip
    not_json = check_file(path, b"{nope", xsd_dir=None, schema_path=None, lang="zh-CN")
    assert not not_json.ok and not_json.problems[0].reason.startswith("不是 JSON")
    not_xml = check_file(tmp_path / "x.xml", b"<a><b></a>", xsd_dir=None, schema_path=None, lang="en")
    assert not not_xml.ok and "well-formed" in not_xml.problems[0].reason


@pytest.fixture
def cli(tmp_path: Path):
    env = {"TRACEABILITY_DB": f"sqlite:///{tmp_path / 'cli.db'}", "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"),
           "TRACEABILITY_EPCIS_XSD_DIR": str(conformance_dir("epcis", "XSD")), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(ROOT)}  # this checkout's code, whichever copy is installed  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    return run


def test_the_commands_check_the_xsd_in_the_users_language_and_exit_non_zero(cli, tmp_path: Path) -> None:
    raw, line = _broken()
    broken = tmp_path / "broken.xml"
    broken.write_bytes(raw)
    good = conformance_dir("epcis", "XML") / "Example_9.6.1-ObjectEvent-2020_06_18a.xml"
    proc = cli("epcis", "validate", str(good), str(broken), "--lang", "en")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "valid" in proc.stdout and "checked against GS1's XSD" in proc.stdout and "2 file(s), 1 with" in proc.stdout
    assert "broken.xml: 1 problem" in proc.stderr or "broken.xml: 2 problem" in proc.stderr, proc.stderr
    assert f"line {line}" in proc.stderr or f"line {line + 1}" in proc.stderr
    zh = cli("epcis", "validate", str(broken))
    assert zh.returncode == 1 and "个问题" in zh.stderr and "行" in zh.stderr and "Traceback" not in zh.stderr
    assert cli("epcis", "validate", str(good)).returncode == 0
    capture = cli("epcis", "capture", str(broken))  # zh-CN by default, as the XSD says it
    assert capture.returncode == 1 and "Traceback" not in capture.stderr
    assert "不符合 GS1 的 EPCIS 2.0 XSD" in capture.stderr and "EPCglobal-epcis-2_0.xsd" in capture.stderr
    assert "chain intact: 0 events" in cli("epcis", "verify-chain").stdout  # nothing was stored
    en = cli("epcis", "capture", str(broken), "--lang", "en")
    assert en.returncode == 1 and "does not conform to GS1's EPCIS 2.0 XSD" in en.stderr
    assert cli("epcis", "capture", str(good)).returncode == 0
