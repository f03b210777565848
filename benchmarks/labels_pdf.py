"""Signed unit labels per second into PDF and ZPL, the peak memory, and reportlab's own QR widget for comparison.

    python benchmarks/labels_pdf.py [--labels 10000] [--template a4-3x8] [--also 100000] [--db URL]

A print job of ``--labels`` QR unit labels is created (its codes Ed25519-signed through ``codes.service``), then
printed through ``labels.service.print_job``, the path the CLI and the API take: codes read from the database in
chunks, label drawn (QR, quiet zone, GTIN / serial / lot / expiry text), page streamed to a file, codes marked
printed. Each print runs in a fresh child process, one core, so that its peak resident memory (``VmHWM``) is the
print's own; a second child repeats it under ``tracemalloc`` for the Python heap's peak. ``--also N`` does the same
for an N-label job, to show the peak does not grow with the job.

In the same run, on the first few hundred payloads: reportlab's ``QrCodeWidget`` drawing the symbols (what a
reportlab-only implementation would do), and our symbols alone on the same payloads.

Rates are per CPU-second of the process doing the work (``time.process_time``), i.e. what one core delivers, so that
other work on the machine does not distort them; the PDF's wall-clock rate and the load average are printed too.
Prints ``name: value`` lines; the figure the issue asks for, PDF labels per second, comes last.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import select

from codes import service as codes_service
from codes.keyfiles import KeyFileStore
from labels import service
from labels.content import CodeRow, unit_label
from labels.pdf import _mask, _StreamingCanvas
from labels.symbols import qr
from labels.templates import MM
from traceability.database import make_engine, migrate, session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import Code, CodeLevel, LabelSymbology, PrintFormat

MASTERDATA = Path(__file__).resolve().parents[1] / "docs" / "examples" / "masterdata.json"
GTIN = "06901234000108"
RESOLVER = "https://id.example.com"
WIDGET_LABELS = 300


def _engine(url: str) -> Any:
    return make_engine(url)


def create_job(url: str, keys: Path, labels: int, template: str) -> tuple[int, float]:
    """A job of signed unit codes; returns its id and codes drawn per second (signing and inserting)."""
    engine = _engine(url)
    start = _clock()
    with session_scope(engine) as session:
        job = service.create_job(session=session, store=KeyFileStore(keys), party_id="PLANT-1", gtin=GTIN,
                                 lot="L2611", expiry="271231", quantity=labels, level=CodeLevel.unit,
                                 template=template, by="benchmark")  # fmt: skip
        job_id = job.id
    engine.dispose()
    assert job_id is not None
    return job_id, _rate(labels, start)


def peak_rss_mb() -> float:
    """This process image's peak resident memory. ``ru_maxrss`` is not used: Linux carries it across fork and exec,
    so a spawned child would report its parent's peak at the time it was started."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_child(url: str, job_id: int, fmt: str, path: str, traced: bool) -> dict[str, float]:
    """In a fresh process: print the job; report the rate and the memory the print took."""
    engine = _engine(url)
    if traced:
        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    with session_scope(engine) as session, open(path, "wb") as out:
        result = service.print_job(session=session, job_id=job_id, fmt=PrintFormat(fmt), out=out, by="benchmark",
                                   resolver=RESOLVER)  # fmt: skip
        session.rollback()  # leave the job printable for the next run
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    report = {"labels": float(result.labels), "per_s": result.labels / cpu, "wall_per_s": result.labels / elapsed,
              "bytes": float(Path(path).stat().st_size),
              "rss_mb": peak_rss_mb()}  # fmt: skip
    if traced:
        report["traced_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return report


def run_print(url: str, job_id: int, fmt: str, path: Path) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        plain = pool.apply(print_child, (url, job_id, fmt, str(path), False))
    with context.Pool(1) as pool:
        traced = pool.apply(print_child, (url, job_id, fmt, str(path), True))
    return plain | {"traced_mb": traced["traced_mb"]}


def _rate(count: int, start: tuple[float, float]) -> float:
    """Per CPU-second of this process: one core's rate, whatever else the machine is doing."""
    return count / (time.process_time() - start[1])


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def payloads(url: str, job_id: int, n: int) -> list[str]:
    engine = _engine(url)
    with session_scope(engine) as session:
        job = service.get_job(session=session, job_id=job_id)
        rows = session.exec(select(Code).where(Code.batch_id == job.batch_id).limit(n)).all()
        made = [CodeRow(r.id or 0, r.level, r.gtin, r.serial, r.sscc, r.lot, r.expiry, r.key_id, r.signature)
                for r in rows]  # fmt: skip
    return [unit_label(row, symbology=LabelSymbology.qr, resolver=RESOLVER).text for row in made]


def reportlab_widget_rate(texts: list[str]) -> float:
    """reportlab's QrCodeWidget drawn into a PDF page per symbol: symbols only, no text."""
    canvas = Canvas(io.BytesIO(), pagesize=(50 * MM, 30 * MM))
    side = 26 * MM
    start = _clock()
    for text in texts:
        widget = QrCodeWidget(text, barLevel="M", barWidth=side, barHeight=side)
        drawing = Drawing(side, side)
        drawing.add(widget)
        renderPDF.draw(drawing, canvas, 2 * MM, 2 * MM)
        canvas.showPage()
    canvas.save()
    return _rate(len(texts), start)


def our_symbols_rate(texts: list[str]) -> float:
    """Our QR symbols (zint encoding, our mask scoring, one image mask each) into a PDF page per symbol."""
    canvas = _StreamingCanvas(io.BytesIO(), pagesize=(50 * MM, 30 * MM), invariant=False)
    side = 26 * MM
    start = _clock()
    for text in texts:
        matrix = qr(text)
        _mask(canvas, matrix, 2 * MM, 2 * MM, side, side)
        canvas.showPage()
    canvas.finish()
    return _rate(len(texts), start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--template", default="a4-3x8", help="unit template for the PDF run (roll-50x30 is also run)")
    parser.add_argument("--also", type=int, default=0, help="a second, larger job for the memory comparison")
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = args.db or f"sqlite:///{work / 'bench.db'}"
        engine = _engine(url)
        migrate(engine)
        keys = work / "keys"
        with session_scope(engine) as session:
            import_masterdata(session=session, raw=json.loads(MASTERDATA.read_text(encoding="utf-8")))
            codes_service.create_key(session=session, store=KeyFileStore(keys))
        engine.dispose()

        job_id, created = create_job(url, keys, args.labels, args.template)
        texts = payloads(url, job_id, WIDGET_LABELS)
        print(f"labels: {args.labels}")
        print(f"payload: signed GS1 Digital Link in QR, {len(texts[0])} characters, error correction M")
        print(f"job_codes_drawn_per_s: {created:,.0f}")

        pdf = run_print(url, job_id, "pdf", work / "labels.pdf")
        roll_id, _ = create_job(url, keys, args.labels, "roll-50x30")
        roll = run_print(url, roll_id, "pdf", work / "roll.pdf")
        zpl = run_print(url, roll_id, "zpl", work / "roll.zpl")

        widget = reportlab_widget_rate(texts)
        ours = our_symbols_rate(texts)
        print(f"reportlab_qr_widget_symbols_per_s: {widget:,.1f}  ({len(texts)} payloads, symbols only)")
        print(f"our_qr_symbols_per_s: {ours:,.0f}  (same payloads, symbols only; {ours / widget:,.0f}x the widget)")
        print(f"zpl_labels_per_s: {zpl['per_s']:,.0f}  (roll-50x30, stored format + variable data)")
        print(f"zpl_peak_rss_mb: {zpl['rss_mb']:.0f}")
        print(f"zpl_traced_peak_mb: {zpl['traced_mb']:.1f}")
        print(f"pdf_roll_50x30_labels_per_s: {roll['per_s']:,.0f}  (one label a page)")
        print(f"pdf_bytes_per_label: {pdf['bytes'] / pdf['labels']:,.0f}")
        print(f"pdf_peak_rss_mb: {pdf['rss_mb']:.0f}  (the printing process, whole)")
        print(f"pdf_traced_peak_mb: {pdf['traced_mb']:.1f}  (Python heap during the print)")
        if args.also:
            big_id, _ = create_job(url, keys, args.also, args.template)
            big = run_print(url, big_id, "pdf", work / "big.pdf")
            print(f"pdf_labels_per_s_{args.also}: {big['per_s']:,.0f}")
            print(f"pdf_peak_rss_mb_{args.also}: {big['rss_mb']:.0f}  (vs {pdf['rss_mb']:.0f} for {args.labels})")
            print(f"pdf_traced_peak_mb_{args.also}: {big['traced_mb']:.1f}  (vs {pdf['traced_mb']:.1f})")
        print(f"pdf_ratio_to_reportlab_widget: {pdf['per_s'] / widget:,.0f}")
        load = os.getloadavg()[0]
        print(f"pdf_labels_per_s_wall_clock: {pdf['wall_per_s']:,.0f}  (load {load:.1f}, {os.cpu_count()} cores)")
        print(
            f"pdf_labels_per_s: {pdf['per_s']:,.0f}  ({args.template}, signed QR unit labels with text, per CPU-second "
            "of the one printing process)"
        )


if __name__ == "__main__":
    main()
