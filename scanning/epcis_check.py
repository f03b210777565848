"""Every problem of an EPCIS document file, found without storing it: what ``traceability epcis validate`` reports.

A file is JSON / JSON-LD, or EPCIS 2.0 XML (by its ``.xml`` name or its first character). XML is read with the
capture's safe parser, validated against GS1's XSD where a deployment has it (``Settings.epcis_xsd_dir``: every
line the XSD refuses, not only the first), and converted as the capture converts it; then the document is checked
as the capture checks one (its structure, the JSON schema when ``Settings.epcis_schema`` is set, each event's
fields, the event hash). Each problem keeps its path (or XML line) beside the reason; the framing is worded in
zh-CN or en.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from scanning import epcis, epcis_xml
from scanning.errors import InvalidDocument
from traceability.errors import Problem
from traceability.i18n import Catalogue, messages, wording

__all__ = ["FileReport", "check_file", "is_xml", "spelt_out", "worded"]

_MESSAGES: Catalogue = messages("scanning.epcis_check")


def worded(key: str, lang: str, **params: object) -> str:
    return wording(_MESSAGES, key, lang, **params)


@dataclass
class FileReport:
    """One file's verdict: the events it holds, its problems (path or XML line, reason), whether the XSD ran."""

    path: Path
    events: int = 0
    problems: list[Problem] = field(default_factory=list)
    xsd_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def spelt_out(exc: InvalidDocument) -> list[Problem]:
    """A refusal's problems; a single one with its message (its reason alone is a short tag such as "missing")."""
    if len(exc.problems) == 1:
        return [Problem(exc.problems[0].path, exc.message)]
    return list(exc.problems)


def is_xml(path: Path, raw: bytes) -> bool:
    return path.suffix.lower() == ".xml" or raw.lstrip()[:1] == b"<"


def check_file(path: Path, raw: bytes, *, xsd_dir: Path | None, schema_path: Path | None, lang: str) -> FileReport:
    """Every problem of one file (see the module docstring); never raises for what the file holds."""
    report = FileReport(path)
    if is_xml(path, raw):
        try:
            root = epcis_xml.parse_xml(raw)
            if xsd_dir is not None:
                report.xsd_checked = True
                lines = epcis_xml.xsd_problems(root, xsd_dir)
                report.problems += [Problem(worded("line", lang, line=n), message) for n, message in lines]
            document: object = epcis_xml.parse_document(raw)
        except InvalidDocument as exc:
            report.problems += spelt_out(exc)
            return report
    else:
        try:
            document = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            report.problems.append(Problem("", worded("not_utf8", lang)))
            return report
        except ValueError as exc:
            report.problems.append(Problem("", worded("not_json", lang, why=exc)))
            return report
    report.events, problems = epcis.document_problems(document, schema_path=schema_path)
    report.problems += problems
    return report
