"""Write a screenshot of every page, of every role, in both languages, on a desktop and on a phone.

    .venv/bin/python scripts/screenshots.py                 # writes docs/screenshots/{role}-{page}-{lang}-{size}.png
    .venv/bin/python scripts/screenshots.py /tmp/shots      # somewhere else

It runs the accessibility scan (``tests/web/test_a11y.py``: a real server on a temporary SQLite file, Debian's
chromium, every page at 390 × 844 and 1366 × 900 in zh-CN and en) with ``TRACEABILITY_SCREENSHOTS`` set, so the
pictures are exactly the pages the scan passed; each is the viewport only. Then every new PNG is re-encoded with a
256-colour palette (Pillow), which keeps text sharp at about a third of the size. The older workflow screenshots
(``distributor-camera.png`` …) come from the other browser tests with the same variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def shrink(path: Path) -> None:
    """Re-encode a screenshot as a palette PNG (screens are flat colours and text: 256 colours lose nothing visible)."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def main(argv: list[str]) -> int:
    out = Path(argv[1]).resolve() if len(argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    env = {**os.environ, "TRACEABILITY_SCREENSHOTS": str(out), "PYTHONPATH": str(ROOT)}
    code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/web/test_a11y.py",
                            "-k", "every_page"], cwd=ROOT, env=env)  # fmt: skip
    written = sorted(p for p in out.glob("*.png") if p.stat().st_mtime >= started)
    for path in written:
        shrink(path)
    size = sum(p.stat().st_size for p in written)
    sys.stdout.write(f"screenshots: {len(written)}\nbytes: {size}\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
