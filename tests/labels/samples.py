"""Render the sample label images in docs/ from real print jobs (a throwaway database and signing key).

    python -m tests.labels.samples

Each image is the first page of a printed PDF, rendered by pdftoppm: what a plant's printer is asked to print.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

from codes import service as codes_service
from codes.keyfiles import KeyFileStore
from labels import service
from tests.labels.helpers import rasterise
from traceability.database import make_engine, migrate, session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import CodeLevel, LabelSymbology, PrintFormat

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SAMPLES = (
    # file name, template, level, symbology, quantity, dpi
    ("sample-labels-a4-3x8.png", "a4-3x8", CodeLevel.unit, LabelSymbology.qr, 24, 150),
    ("sample-labels-roll-50x30-datamatrix.png", "roll-50x30", CodeLevel.unit, LabelSymbology.datamatrix, 1, 300),
    ("sample-labels-roll-100x150-case.png", "roll-100x150", CodeLevel.case, None, 1, 150),
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'samples.db'}")
        migrate(engine)
        store = KeyFileStore(Path(tmp) / "keys")
        with session_scope(engine) as session:
            raw = json.loads((DOCS / "examples" / "masterdata.json").read_text(encoding="utf-8"))
            import_masterdata(session=session, raw=raw)
            codes_service.create_key(session=session, store=store)
            for name, template, level, symbology, quantity, dpi in SAMPLES:
                job = service.create_job(session=session, store=store, party_id="PLANT-1", gtin="06901234000108",
                                         lot="L2611", expiry="271231", quantity=quantity, level=level,
                                         template=template, by="samples", symbology=symbology)  # fmt: skip
                out = io.BytesIO()
                service.print_job(session=session, job_id=job.id or 0, fmt=PrintFormat.pdf, out=out, by="samples",
                                  resolver="https://id.example.com")  # fmt: skip
                (DOCS / name).write_bytes(rasterise(out.getvalue(), dpi)[0])
                print(f"wrote docs/{name}")
        engine.dispose()


if __name__ == "__main__":
    main()
