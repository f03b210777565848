"""Helpers for the labels tests: a real rasteriser, and a job owned by a given party (for the authorisation matrix)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlmodel import Session

from labels import service
from tests.factories import GTIN
from traceability.models import CodeLevel

__all__ = ["label_job_of", "rasterise"]


def rasterise(pdf: bytes, dpi: int = 300) -> list[bytes]:
    """Every page of ``pdf`` as an 8-bit gray PNG, rendered by poppler's pdftoppm (installed by bootstrap.sh)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; scripts/bootstrap.sh installs it")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "labels.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(source), str(Path(tmp) / "page")],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        return [p.read_bytes() for p in sorted(Path(tmp).glob("page-*.png"))]


def label_job_of(session: Session, party_id: str) -> dict[str, str]:
    """A fresh one-pallet print job of ``party_id``, as path parameters: for the authorisation matrix.

    Pallet labels need no signing key, so jobs can be made for any party.
    """
    job = service.create_job(session=session, store=None, party_id=party_id, gtin=GTIN, lot="L1", expiry=None,
                             quantity=1, level=CodeLevel.pallet, template="roll-100x150", by="test")  # fmt: skip
    return {"job_id": str(job.id)}
