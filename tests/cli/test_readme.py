"""The README's "Using it" block, run exactly as written: from the checkout into an empty folder, with the default
database (no ``TRACEABILITY_*`` variable set), every line in order, each exiting 0 without a traceback.

Only ``traceability serve`` is not run (it serves until stopped): its ``--help`` is, so the line stays correct.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
MARK = "@@readme"


def readme_commands() -> list[str]:
    """The lines of the first ``sh`` block under "## Using it"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert block is not None, "no sh block under 'Using it'"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _script(commands: list[str]) -> str:
    """One shell runs the block (so ``cd``, ``EX`` and ``SHIP`` carry on, as for a reader), marking each line's
    output and stopping at the first failure."""
    lines = ["set -u"]
    for i, command in enumerate(commands):
        if command.startswith("traceability serve"):
            command = "traceability serve --help >/dev/null"
        lines += [f'echo "{MARK} {i}"; echo "{MARK} {i}" >&2', command,
                  f'rc=$?; echo "{MARK} {i} rc=$rc" >&2; [ "$rc" = 0 ] || exit "$rc"']  # fmt: skip
    return "\n".join(lines) + "\n"


def _by_line(stream: str) -> dict[int, str]:
    parts = re.split(rf"^{MARK} (\d+)\n", stream, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_the_block_names_the_shipped_samples() -> None:
    commands = readme_commands()
    named = {m for c in commands for m in re.findall(r'"\$EX/([^"]+)"', c)}
    assert named == {"masterdata.json", "document.jsonld", "case-top.jpg", "case-top.txt"}
    assert all((EXAMPLES / name).is_file() for name in named)
    assert any(c.startswith("traceability serve") for c in commands)


def test_readme_runs_as_written(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "activate").is_file():
        pytest.skip("the README activates the checkout's .venv (./scripts/bootstrap.sh makes it)")
    commands = readme_commands()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEABILITY_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(TMPDIR=str(tmp_path), HOME=str(tmp_path), COLUMNS="200")  # mktemp -d lands under tmp_path
    proc = subprocess.run(["bash", "-c", _script(commands)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    out, err = _by_line(proc.stdout), _by_line(proc.stderr)
    for i, command in enumerate(commands):
        assert f"{MARK} {i} rc=0" in proc.stderr, f"README line failed: {command}\n{err.get(i, proc.stderr)[-3000:]}"
        assert "Traceback" not in out.get(i, "") + err.get(i, ""), command
    assert proc.returncode == 0

    def line(prefix: str) -> int:
        return next(i for i, c in enumerate(commands) if c.startswith(prefix))

    folder = next(p for p in tmp_path.iterdir() if p.is_dir())  # the block's empty folder, from mktemp -d
    assert {"traceability.db", "keys", "codes.txt", "keyring.json"} <= {p.name for p in folder.iterdir()}
    assert "6 accepted, 0 rejected" in err[line('traceability scan --image "$EX/case-top.jpg"')]
    assert "6 accepted, 0 rejected" in err[line('traceability shipment scan "$SHIP"')]
    september = json.loads(out[line("traceability settlement run --period 2026-09")])
    assert [(d["party"], d["units_purchased"], d["units_scanned_out"], d["rate"], d["rebate"])
            for d in september["distributors"]] == [("D-GZ", 12, 12, "0.02", "64.32")]  # fmt: skip
    assert [(s["party"], s["units_sold"], s["fee"]) for s in september["stores"]] == [("S-GZ-1", 2, "16.08")]
    assert "locked 2026-09" in err[line("traceability settlement lock --period 2026-09")]
    assert out[line("traceability apikeys create")].startswith("trc_")
