"""Problem details speak the caller's language (issue 17): ``detail`` worded from the catalogue in the language the
request negotiates (Chinese without a preference), the machine code the same in every language."""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from codes import service as codes_service
from codes.service import key_store
from tests.factories import api_key, auth, seed_masterdata
from tests.words import check_body
from traceability.errors import NotFound
from traceability.i18n import Catalogue, messages
from traceability.models import Role
from traceability.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("traceability", "ledger", "codes", "scanning", "flow_graph", "rebates", "members", "crm", "settlement",
            "pos", "orders", "labels", "cli", "web", "demo")  # fmt: skip
HAN = re.compile(r"[\u4e00-\u9fff]")

LANGUAGES = [  # (Accept-Language sent, or None for no header; the language expected)
    (None, "zh-CN"),
    ("zh-CN", "zh-CN"),
    ("en", "en"),
    ("fr;q=0.9, en;q=0.5", "en"),
]


def _headers(base: dict[str, str], accept: str | None) -> dict[str, str]:
    return base if accept is None else {**base, "Accept-Language": accept}


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_revoked_key_is_refused_in_the_callers_language(client: TestClient, session: Session, accept: str | None,
                                                          lang: str) -> None:  # fmt: skip
    seed_masterdata(session)
    admin, victim = api_key(session, Role.admin), api_key(session, Role.distributor)
    assert client.delete(f"/api/v1/apikeys/{victim.id}", headers=auth(admin)).status_code == 200
    resp = client.get("/api/v1/parties", headers=_headers(auth(victim), accept))
    assert resp.status_code == 401
    check_body(resp.json(), lang, "unauthenticated", "unknown or revoked API key")


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_scanning_as_a_foreign_party_is_forbidden_in_the_callers_language(
    client: TestClient, session: Session, accept: str | None, lang: str
) -> None:
    seed_masterdata(session)
    distributor = auth(api_key(session, Role.distributor))
    resp = client.post("/api/v1/scans", headers=_headers(distributor, accept),
                       json={"biz_step": "receiving", "codes": ["x"], "party": "PLANT-1"})  # fmt: skip
    assert resp.status_code == 403
    check_body(resp.json(), lang, "forbidden", "scans only as its own party")


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_unknown_print_job_is_not_found_in_the_callers_language(client: TestClient, session: Session,
                                                                   accept: str | None, lang: str) -> None:  # fmt: skip
    seed_masterdata(session)
    plant = auth(api_key(session, Role.plant))
    resp = client.get("/api/v1/labels/jobs/987654", headers=_headers(plant, accept))
    assert resp.status_code == 404
    body = resp.json()
    check_body(body, lang, "print_job_not_found", "no print job 987654")
    assert body["job_id"] == 987654 and "987654" in str(body["detail"])


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_bad_code_is_refused_in_the_callers_language(client: TestClient, session: Session, settings: Settings,
                                                       accept: str | None, lang: str) -> None:  # fmt: skip
    seed_masterdata(session)
    codes_service.create_key(session=session, store=key_store(settings))
    plant = auth(api_key(session, Role.plant))
    resp = client.post("/api/v1/codes/aggregate", headers=_headers(plant, accept),
                       json={"parent": "(00)123456789012345670", "children": ["x"]})  # fmt: skip
    assert resp.status_code == 422
    body = resp.json()
    check_body(body, lang, "malformed_code", "is not an 18-digit SSCC with a valid check digit")
    assert body["field"] == "sscc"


def test_the_cli_and_the_logs_keep_the_english_message() -> None:
    """A keyed error's ``message`` (what the CLI prints) is the English wording; only the problem body changes."""
    error = NotFound.keyed(messages("traceability.auth.service"), "unknown_key_id", key_id=7)
    assert error.message == str(error) == "unknown API key 7"
    assert error.to_problem()["detail"] == "unknown API key 7"
    assert HAN.search(error.to_problem("zh-CN")["detail"]) and "7" in error.to_problem("zh-CN")["detail"]
    assert error.to_problem("fr")["detail"] == "unknown API key 7"  # a language we lack falls back to English


def _keyed_sites() -> Iterator[tuple[str, int, str, Catalogue, str]]:
    """Every ``X.keyed(_MESSAGES, key)`` in the packages: (module, line, its catalogue's name, the catalogue, the
    key), a key chosen by a conditional counted once per branch, one made with an f-string by its literal prefix
    (``f"rate_limited.{bucket}"``: every key so named). The catalogue is a part of the one catalogue
    (``messages("context")``) or a message dict written in the module, waiting for ``scripts/fold_catalogues.py``."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            contexts: dict[str, tuple[str, Catalogue]] = {
                stmt.target.id: (str(stmt.value.args[0].value), messages(str(stmt.value.args[0].value)))
                for stmt in tree.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and isinstance(stmt.value, ast.Call) and getattr(stmt.value.func, "id", None) == "messages"
                and isinstance(stmt.value.args[0], ast.Constant)
            }  # fmt: skip
            for stmt in tree.body:  # a message dict not folded yet: {"en": {...}, "zh-CN": {...}}
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                        and isinstance(stmt.value, ast.Dict)
                        and {getattr(k, "value", None) for k in stmt.value.keys} == {"en", "zh-CN"}):  # fmt: skip
                    with contextlib.suppress(ValueError):  # a dict of other things than words
                        words = ast.literal_eval(stmt.value)
                        contexts[stmt.targets[0].id] = (f"{path.stem}.{stmt.targets[0].id}", words)
            assigned: dict[str, list[str]] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    value = node.value
                    branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                    strings = [b.value for b in branches if isinstance(b, ast.Constant) and isinstance(b.value, str)]
                    if len(strings) == len(branches):
                        assigned[node.targets[0].id] = strings
            forwarding = [(f.lineno, f.end_lineno or f.lineno) for f in ast.walk(tree)
                          if isinstance(f, ast.FunctionDef) and f.name == "keyed"]  # fmt: skip
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "keyed" and len(node.args) == 2
                        and isinstance(node.args[0], ast.Name)):  # fmt: skip
                    continue
                if any(start <= node.lineno <= end for start, end in forwarding):
                    continue  # an override of keyed passing its caller's catalogue on: the caller's site is checked
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                assert node.args[0].id in contexts, f"{module}:{node.lineno}: {node.args[0].id} is not messages(...)"
                key = node.args[1]
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    keys = [key.value]
                elif isinstance(key, ast.JoinedStr) and key.values and isinstance(key.values[0], ast.Constant):
                    prefix = str(key.values[0].value)
                    keys = [k for k in contexts[node.args[0].id][1]["en"] if k.startswith(prefix)]
                    assert keys, f"{module}:{node.lineno}: no key starts with {prefix!r}"
                else:
                    assert isinstance(key, ast.Name) and key.id in assigned, f"{module}:{node.lineno}: a key not found"
                    keys = assigned[key.id]
                for k in keys:
                    yield module, node.lineno, *contexts[node.args[0].id], k


def test_every_key_a_raise_site_uses_is_in_both_languages() -> None:
    sites = list(_keyed_sites())
    assert len(sites) > 60  # the converted doors: auth, the API's limits, scanning, labels, codes
    missing = [f"{module}:{line} {context}/{key} [{lang}]" for module, line, context, catalogue, key in sites
               for lang in ("en", "zh-CN") if key not in catalogue[lang]]  # fmt: skip
    assert not missing, missing


_FIELD = re.compile(r"\{(\w+)")


def _literal_catalogues(tree: ast.Module) -> dict[str, dict[str, dict[str, str]]]:
    """A module's message dicts not folded yet (``_WORDS = {"en": {...}, "zh-CN": {...}}``)."""
    found = {}
    for stmt in tree.body:
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Dict)
                and {getattr(k, "value", None) for k in stmt.value.keys} == {"en", "zh-CN"}):  # fmt: skip
            with contextlib.suppress(ValueError):
                found[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    return found


def test_every_message_dict_is_complete_in_both_languages() -> None:
    """A message dict waiting to be folded has the same keys in both languages, each with the same ``{fields}``,
    and Chinese wherever the English has words beside its fields (what the catalogue test asks of the catalogue)."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name, words in _literal_catalogues(ast.parse(path.read_text(encoding="utf-8"))).items():
                where = f"{path.relative_to(ROOT)}:{name}"
                assert set(words["en"]) == set(words["zh-CN"]), where
                for key, english in words["en"].items():
                    chinese = words["zh-CN"][key]
                    worded = re.search(r"[A-Za-z]", re.sub(r"\{[^}]*\}", "", english))  # more than its fields
                    assert english and chinese and (HAN.search(chinese) or not worded), (where, key)
                    assert set(_FIELD.findall(english)) == set(_FIELD.findall(chinese)), (where, key)
    # none is left once folded (scripts/fold_catalogues.py); the catalogue's own test then checks the same
