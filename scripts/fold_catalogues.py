"""Fold message dicts written in code (``{"en": {...}, "zh-CN": {...}}`` at module level) and the pages' old JSON
catalogues into the one gettext catalogue, and point the code at it.

Why a script: a branch written before the catalogue moved may still add such a dict (or a JSON key); running this
after merging it puts the new messages where they belong instead of by hand. It is idempotent: entries already in
the catalogue keep their place, new ones are appended, a changed wording in code wins.

    python scripts/fold_catalogues.py          # fold, rewrite the modules, write the .po files
    python scripts/fold_catalogues.py --check  # exit 1 if anything is left to fold (nothing written)
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from traceability.i18n import SUPPORTED, po_path  # noqa: E402

PACKAGES = ("traceability", "ledger", "codes", "scanning", "flow_graph", "rebates", "members", "crm", "settlement",
            "pos", "orders", "labels", "cli", "web", "demo")  # fmt: skip
WEB_JSON = ROOT / "web" / "locales"
CREATED = datetime(2026, 12, 2, tzinfo=UTC)
HEADER = "Messages of the traceability system: one catalogue for pages, API problems, exports, tickets and the CLI."


def _literal_catalogue(node: ast.expr) -> dict[str, dict[str, str]] | None:
    """The value of ``{"en": {...}, "zh-CN": {...}}`` if ``node`` is exactly that literal, else None."""
    if not isinstance(node, ast.Dict):
        return None
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    if not isinstance(value, dict) or set(value) != set(SUPPORTED):
        return None
    if not all(isinstance(v, dict) and all(isinstance(k, str) and isinstance(t, str) for k, t in v.items())
               for v in value.values()):  # fmt: skip
        return None
    return value


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def find_dicts() -> list[tuple[Path, str, ast.stmt, dict[str, dict[str, str]]]]:
    """Every module-level message dict of the packages: (file, variable, its statement, its messages)."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for stmt in tree.body:
                target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else (
                    stmt.target if isinstance(stmt, ast.AnnAssign) else None)  # fmt: skip
                value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
                if isinstance(target, ast.Name) and value is not None:
                    messages = _literal_catalogue(value)
                    if messages is not None:
                        found.append((path, target.id, stmt, messages))
    return found


def _context(path: Path, name: str, siblings: int) -> str:
    """The module's path; with the variable's name too when the module has several dicts, or already reads a part of
    the catalogue (a new dict must not overwrite the words folded before it)."""
    folded_before = 'messages("' in path.read_text(encoding="utf-8")
    single = siblings == 1 and not folded_before
    return _module(path) if single else f"{_module(path)}:{name.strip('_').lower()}"


def _rewrite(path: Path, replacements: list[tuple[ast.stmt, str, str]]) -> None:
    """Replace each dict statement with ``NAME: Catalogue = messages("context")`` and import what that needs."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for stmt, name, context in sorted(replacements, key=lambda r: -r[0].lineno):
        end = stmt.end_lineno or stmt.lineno
        lines[stmt.lineno - 1 : end] = [f'{name}: Catalogue = messages("{context}")\n']
    text = "".join(lines)
    match = re.search(r"^from traceability\.i18n import ([^\n(]+)$", text, re.M)
    if match:
        names = {n.strip() for n in match.group(1).split(",")} | {"Catalogue", "messages"}
        text = text[: match.start()] + f"from traceability.i18n import {', '.join(sorted(names))}" + text[match.end() :]
    else:
        future = re.search(r"^from __future__ import [^\n]+\n", text, re.M)
        anchor = future or re.search(r"^(from|import) ", text, re.M)
        at = (anchor.end() if future else anchor.start()) if anchor else 0
        text = text[:at] + "from traceability.i18n import Catalogue, messages\n" + text[at:]
    path.write_text(text, encoding="utf-8")


def _read(lang: str) -> Catalog:
    path = po_path(lang)
    if path.exists():
        with path.open("rb") as f:
            return read_po(f, locale=lang.replace("-", "_"))
    return Catalog(locale=lang.replace("-", "_"), project="traceability", version="0.1", fuzzy=False,
                   header_comment=f"# {HEADER}", creation_date=CREATED, revision_date=CREATED,
                   last_translator="traceability maintainers", language_team=f"{lang} <maintainers>")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report what is left to fold")
    args = parser.parse_args()
    dicts = find_dicts()
    json_files = sorted(WEB_JSON.glob("*.json")) if WEB_JSON.exists() else []
    if args.check:
        for path, name, _, _ in dicts:
            sys.stdout.write(f"{path.relative_to(ROOT)}: {name} is a message dict in code" + "\n")
        for path in json_files:
            sys.stdout.write(f"{path.relative_to(ROOT)}: JSON catalogue" + "\n")
        return 1 if dicts or json_files else 0

    catalogs = {lang: _read(lang) for lang in SUPPORTED}
    per_file: dict[Path, int] = {}
    for path, _, _, _ in dicts:
        per_file[path] = per_file.get(path, 0) + 1
    rewrites: dict[Path, list[tuple[ast.stmt, str, str]]] = {}
    for path, name, stmt, messages in dicts:
        context = _context(path, name, per_file[path])
        for lang in SUPPORTED:
            for key, text in messages[lang].items():
                catalogs[lang].add(key, text, context=context, flags=("python-brace-format",))
        rewrites.setdefault(path, []).append((stmt, name, context))
    for path in json_files:
        lang = path.stem
        for key, text in json.loads(path.read_text(encoding="utf-8")).items():
            catalogs[lang].add(key, text, context="web", flags=("python-brace-format",))
    for lang, catalog in catalogs.items():
        target = po_path(lang)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as f:
            write_po(f, catalog, width=0, sort_output=False, omit_header=False)
    for path, replacements in rewrites.items():
        _rewrite(path, replacements)
        sys.stdout.write(f"folded {len(replacements)} dict(s) of {path.relative_to(ROOT)}" + "\n")
    for path in json_files:
        path.unlink()
        sys.stdout.write(f"folded {path.relative_to(ROOT)}" + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
