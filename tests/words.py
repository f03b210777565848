"""Checks shared by the packages' ``test_words.py`` (issue 17): a problem answers in the caller's language with the
same machine code, and every key a package raises with is worded in both languages with the same ``{fields}``."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from httpx import Response

from traceability.i18n import SUPPORTED, Catalogue, messages

ROOT = Path(__file__).resolve().parents[1]
HAN = re.compile(r"[\u4e00-\u9fff]")

LANGUAGES = [  # (Accept-Language sent, or None for no header; the language expected)
    (None, "zh-CN"),
    ("en", "en"),
]


def headers(base: Mapping[str, str], accept: str | None) -> dict[str, str]:
    return dict(base) if accept is None else {**base, "Accept-Language": accept}


def check(resp: Response, status: int, error: str, english: str, lang: str) -> dict[str, Any]:
    """The problem ``resp`` has ``status`` and machine code ``error``; its detail is English (holding ``english``)
    in English, Chinese (without it) in Chinese."""
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    check_body(body, lang, error, english)
    return body


def check_body(body: dict[str, Any], lang: str, error: str, english: str) -> None:
    """A problem body has machine code ``error`` and its detail in ``lang`` (see :func:`check`)."""
    assert body["error"] == error, body
    detail = str(body["detail"])
    if lang == "en":
        assert english in detail and not HAN.search(detail), body
    else:
        assert HAN.search(detail) and english not in detail, body


def fields(text: str) -> set[str]:
    """The ``{named}`` fields of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _catalogues(tree: ast.Module) -> dict[str, Catalogue]:
    """A module's catalogues by variable: ``NAME: Catalogue = messages("context")`` and literal message dicts."""
    out: dict[str, Catalogue] = {}
    for stmt in tree.body:
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and isinstance(stmt.value, ast.Call)
                and getattr(stmt.value.func, "id", None) == "messages"):  # fmt: skip
            out[stmt.target.id] = messages(ast.literal_eval(stmt.value.args[0]))
        elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
              and isinstance(stmt.value, ast.Dict)
              and {getattr(k, "value", None) for k in stmt.value.keys} == set(SUPPORTED)):  # fmt: skip
            out[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    return out


def keyed_sites(package: str, reasons: Mapping[str, str] | None = None) -> Iterator[tuple[str, Catalogue, str]]:
    """Every key ``package`` raises with: ``X.keyed(CATALOGUE, "key", ...)`` as (where, catalogue, key); and, for
    ``reasons`` (a callable's name → the context of its catalogue), the literal first argument of each call to it
    (a reason code worded later, such as ``_Bad("invalid_phone")``)."""
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        catalogues = _catalogues(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            key = node.args[1] if len(node.args) > 1 else None
            if (isinstance(node.func, ast.Attribute) and node.func.attr == "keyed"
                    and isinstance(node.args[0], ast.Name) and isinstance(key, ast.Constant)):  # fmt: skip
                assert node.args[0].id in catalogues, f"{where}: {node.args[0].id} is no catalogue of the module"
                yield where, catalogues[node.args[0].id], str(key.value)
            elif (reasons and isinstance(node.func, ast.Name) and node.func.id in reasons
                  and isinstance(node.args[0], ast.Constant)):  # fmt: skip
                yield where, messages(reasons[node.func.id]), str(node.args[0].value)


def literal_catalogues(package: str) -> Iterator[tuple[str, Catalogue]]:
    """The message dicts written in ``package``'s modules (waiting to be folded into the one catalogue)."""
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, catalogue in _catalogues(tree).items():
            if isinstance(catalogue, dict):
                yield f"{path.relative_to(ROOT)}:{name}", catalogue


def unworded(package: str, reasons: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with ``package``'s words: a key used but missing in a language, a key whose languages name
    different fields, a message dict whose languages hold different keys. Empty when all is well."""
    problems: list[str] = []
    sites = list(keyed_sites(package, reasons))
    assert sites, f"{package} raises no keyed error"
    for where, catalogue, key in sites:
        missing = [lang for lang in SUPPORTED if key not in catalogue[lang]]
        if missing:
            problems.append(f"{where}: {key} missing in {missing}")
        elif fields(catalogue["en"][key]) != fields(catalogue["zh-CN"][key]):
            problems.append(f"{where}: {key} has other fields in zh-CN")
    for where, catalogue in literal_catalogues(package):
        if set(catalogue["en"]) != set(catalogue["zh-CN"]):
            problems.append(f"{where}: the languages hold different keys")
        problems += [f"{where}: {key} has other fields in zh-CN" for key, text in catalogue["en"].items()
                     if key in catalogue["zh-CN"] and fields(text) != fields(catalogue["zh-CN"][key])]  # fmt: skip
    return problems
