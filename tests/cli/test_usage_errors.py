"""Every command's usage errors: a missing argument, a missing file, a bad choice. Each is one or two lines naming
the mistake and the ``--help`` to read, exit code 2, never a traceback; a domain error stays exit 1.

The commands are found by walking the command tree, so a new command is covered the day it is added. They run in
this process through the real entry point (``cli.main.main``); a few run as a subprocess too.
"""

from __future__ import annotations

import enum
import inspect
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
import typer.main

from cli.main import app, main

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "/nonexistent-folder/missing.json"


def _leaves() -> Iterator[tuple[list[str], Any]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name in sorted(subcommands):
                yield from walk(subcommands[name], [*path, name])
        else:
            yield path, command

    yield from walk(typer.main.get_command(app), [])


LEAVES = list(_leaves())


def _base(annotation: Any) -> Any:
    """The annotation without ``None`` / ``list[...]``: the type of one value."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        return _base(args[0])
    return annotation


def _choices(annotation: Any) -> list[str] | None:
    kind = _base(annotation)
    if typing.get_origin(kind) is Literal:
        return [str(v) for v in typing.get_args(kind)]
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return [str(m.value) for m in kind]
    return None


def _hints(command: Any) -> dict[str, Any]:
    return typing.get_type_hints(inspect.unwrap(command.callback))


def _value(annotation: Any, existing: Path) -> str:
    """A value that parses, for filling the other required parameters."""
    kind = _base(annotation)
    choices = _choices(annotation)
    if choices:
        return choices[0]
    if kind is int or kind is float:
        return "1"
    if kind is Path:
        return str(existing)
    if kind is datetime:
        return "2026-01-01T00:00:00"
    return "X"


def _argv(path: list[str], command: Any, existing: Path, override: tuple[str, str] | None = None) -> list[str]:
    """The command with every required parameter given (and ``override`` = (name, value) given too)."""
    hints = _hints(command)
    options: list[str] = []
    arguments: list[str] = []
    for param in command.params:
        wanted = override is not None and param.name == override[0]
        if not (param.required or wanted):
            continue
        declared = inspect.signature(inspect.unwrap(command.callback)).parameters[param.name].default
        formats = getattr(declared, "formats", None)  # a date option spelt as its command reads it
        low = getattr(declared, "min", None)  # a number option's lower bound, when it has one
        sample = datetime(2026, 1, 1).strftime(formats[0]) if formats else \
            str(low) if low is not None else _value(hints[param.name], existing)  # fmt: skip
        value = override[1] if wanted and override else sample
        if param.param_type_name == "argument":
            arguments.append(value)
        else:
            options += [param.opts[0], value]
    return [*path, *options, *arguments]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("TRACEABILITY_DB", f"sqlite:///{tmp_path / 'usage.db'}")
    monkeypatch.setenv("TRACEABILITY_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("TRACEABILITY_POLICY_FILE", raising=False)
    monkeypatch.chdir(tmp_path)

    def invoke(argv: list[str]) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["traceability", *argv])
        with pytest.raises(SystemExit) as done:
            main()
        out, err = capsys.readouterr()
        code = done.value.code
        return (code if isinstance(code, int) else 0 if code is None else 1), out + err

    return invoke


def _short_and_clean(text: str, argv: list[str]) -> list[str]:
    assert "Traceback" not in text, f"{argv}:\n{text}"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, f"{argv}: {len(lines)} lines:\n{text}"
    assert lines[0].startswith("error: "), f"{argv}: {text}"
    return lines


def test_the_tree_is_walked() -> None:
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"scan", "masterdata import", "codes generate", "settlement lock", "labels print", "alerts list"} <= names
    assert len(names) >= 40


def test_every_missing_argument_is_a_usage_error(run) -> None:
    checked = 0
    for path, command in LEAVES:
        missing = [p for p in command.params if p.required]
        if not missing:
            continue
        code, text = run(path)
        lines = _short_and_clean(text, path)
        assert code == 2, (path, text)
        first = missing[0]
        shown = first.opts[0] if first.param_type_name == "option" else first.name
        assert "missing" in lines[0] and shown.lower() in lines[0].lower(), (path, text)
        assert f"Try 'traceability {' '.join(path)} --help'." in text, (path, text)
        checked += 1
    assert checked >= 30


def test_every_bad_choice_is_a_usage_error(run, tmp_path: Path) -> None:
    existing = tmp_path / "exists.json"
    existing.write_text("{}")
    checked = 0
    for path, command in LEAVES:
        hints = _hints(command)
        for param in command.params:
            choices = _choices(hints[param.name])
            if not choices:
                continue
            argv = _argv(path, command, existing, (param.name, "bogus"))
            code, text = run(argv)
            lines = _short_and_clean(text, argv)
            assert code == 2 and "'bogus' is not one of" in lines[0], (argv, text)
            assert all(f"'{c}'" in lines[0] for c in choices), (argv, text)
            checked += 1
    assert checked >= 15


def test_every_missing_file_is_a_clean_error(run, tmp_path: Path) -> None:
    existing = tmp_path / "exists.json"
    existing.write_text("{}")
    inputs = outputs = 0
    for path, command in LEAVES:
        if path == ["demo"]:
            continue  # its --out is a folder it creates (and a run takes a minute)
        hints = _hints(command)
        for param in command.params:
            if _base(hints[param.name]) is not Path:
                continue
            argv = _argv(path, command, existing, (param.name, NOWHERE))
            code, text = run(argv)
            if param.name == "out":  # an output under a missing folder: refused before or when it is written
                assert code in (0, 1, 2) and "Traceback" not in text, (argv, text)
                if code:
                    _short_and_clean(text, argv)
                outputs += 1
                continue
            lines = _short_and_clean(text, argv)
            assert code in (1, 2) and "missing.json" in lines[0], (argv, text)
            inputs += 1
    assert inputs >= 8 and outputs >= 6


def test_generate_refuses_an_existing_file_and_leaves_no_partial_one(run, tmp_path: Path) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("keep me\n")
    argv = ["codes", "generate", "--gtin", "06901234000108", "--count", "3", "--out", str(codes)]
    code, text = run(argv)
    assert code == 2 and "exists already" in _short_and_clean(text, argv)[0] and "--force" in text
    assert codes.read_text() == "keep me\n"
    code, text = run([*argv, "--force"])  # no signing key yet: a domain error, and still no partial file
    assert code == 1 and "no active signing key" in _short_and_clean(text, argv)[0]
    assert codes.read_text() == "keep me\n"
    fresh = tmp_path / "fresh.txt"
    code, text = run([*argv[:-1], str(fresh)])
    assert code == 1 and not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []
    assert run(["masterdata", "import", str(ROOT / "docs" / "examples" / "masterdata.json")])[0] == 0
    assert run(["codes", "keys", "create"])[0] == 0
    code, text = run([*argv, "--force"])
    assert code == 0, text
    assert len(codes.read_text().splitlines()) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_the_entry_point_in_a_subprocess(tmp_path: Path) -> None:
    env = {"TRACEABILITY_DB": f"sqlite:///{tmp_path / 'cli.db'}", "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"),
           "PATH": "/usr/bin:/bin"}  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    cases = {
        ("masterdata", "import", "nope.json"): "file 'nope.json' does not exist",
        ("scan", "X", "--step", "commissioning"): "missing option '--party'. Try 'traceability scan --help'.",
        ("settlement", "run", "--period", "2026-01", "--format", "docx"): "'docx' is not one of",
        ("--bogus",): "no such option: --bogus",
    }
    for args, expected in cases.items():
        proc = cli(*args)
        assert proc.returncode == 2 and proc.stdout == "", (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and expected in proc.stderr and "Traceback" not in proc.stderr, args
    domain = cli("settlement", "run", "--period", "2026-13")
    assert domain.returncode == 1 and domain.stderr.startswith("error: period '2026-13' is not YYYY-MM")
    group = cli("codes")
    assert group.returncode == 2 and "generate" in group.stdout and "Traceback" not in group.stdout + group.stderr


@pytest.mark.parametrize(("env", "chinese"), [
    ({"TRACEABILITY_LANG": "zh-CN"}, True),
    ({"LANG": "zh_CN.UTF-8"}, True),
    ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, False),
    ({"LANG": "C.UTF-8"}, False),
    ({}, False),
])  # fmt: skip
def test_a_domain_error_is_printed_in_the_terminals_language(run, monkeypatch: pytest.MonkeyPatch,
                                                             env: dict[str, str], chinese: bool) -> None:  # fmt: skip
    """A clerk whose terminal speaks Chinese reads the refusal in Chinese; an unset or C locale keeps English."""
    for name in ("TRACEABILITY_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, text = run(["apikeys", "revoke", "424242"])
    assert code == 1, text
    line = _short_and_clean(text, ["apikeys", "revoke"])[0]
    assert "424242" in line
    assert bool(re.search(r"[\u4e00-\u9fff]", line)) is chinese, line
    assert ("unknown API key" in line) is not chinese, line
