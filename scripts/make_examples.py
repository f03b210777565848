"""Write the README's sample files in ``docs/examples/``: an EPCIS 2.0 document and a photo of a case top.

    .venv/bin/python scripts/make_examples.py          # rewrites docs/examples/{document.jsonld,case-top.*}

The story they tell (the README's "Using it" runs it): in September 2026 another serialization system (a contract
packer at PLANT-1) commissioned twelve units of the example product, which the brand shipped to D-GZ; D-GZ sent six
on to the member store S-GZ-1, which sold two. The other six are still in their case at D-GZ, whose top is
``case-top.jpg``: four QR and two GS1 DataMatrix unit labels, drawn by the project's own label renderer
(``labels.pdf`` on the ``roll-50x30`` template, rasterised with poppler's ``pdftoppm``) and laid on a carton.
``case-top.txt`` lists the six codes it holds, one a line, as Digital Links.

The codes carry no signature of ours (another system issued them), so they are verified by look-up once the
document's commissioning is captured. Deterministic: the same inputs give the same files (the carton's texture and
the labels' tilt come from a fixed seed); needs ``pdftoppm`` (Debian ``poppler-utils``).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labels.content import LabelData  # noqa: E402
from labels.pdf import write_pdf  # noqa: E402
from labels.templates import get_template  # noqa: E402
from traceability.models import CodeLevel, LabelSymbology  # noqa: E402

OUT = ROOT / "docs" / "examples"
GTIN, ITEM, LOT, EXPIRY = "06901234000108", "000010", "L2609", "280331"
SERIALS = [f"CP2609{i:04d}" for i in range(1, 13)]
IN_CASE = SERIALS[:6]
"""The case still at D-GZ: the units on the photo."""
ON_TO_STORE, SOLD = SERIALS[6:], SERIALS[6:8]
SGLN = {"PLANT-1": "urn:epc:id:sgln:6901234.00001.0", "D-GZ": "urn:epc:id:sgln:6901234.00003.0",
        "S-GZ-1": "urn:epc:id:sgln:6901234.00004.0"}  # fmt: skip
DPI = 250
SEED = 6  # the carton and tilts of this seed give the decoder no false "unreadable" candidate


def digital_link(serial: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/{serial}?10={LOT}&17={EXPIRY}"


def _epcs(serials: list[str]) -> list[str]:
    return [f"urn:epc:id:sgtin:6901234.{ITEM}.{s}" for s in serials]


def _event(n: int, step: str, serials: list[str], at: str, when: str, *, action: str = "OBSERVE",
           to: str | None = None, disposition: str | None = None) -> dict[str, object]:  # fmt: skip
    event: dict[str, object] = {
        "type": "ObjectEvent", "eventID": f"urn:uuid:7a1c2609-0000-4000-8000-{n:012d}", "eventTime": when,
        "eventTimeZoneOffset": "+08:00", "epcList": _epcs(serials), "action": action, "bizStep": step,
        "readPoint": {"id": SGLN[at]}, "bizLocation": {"id": SGLN[at]},
    }  # fmt: skip
    if disposition:
        event["disposition"] = disposition
    if action == "ADD":
        event["ilmd"] = {"cbvmda:lotNumber": LOT, "cbvmda:itemExpirationDate": "2028-03-31"}
    if step == "shipping":
        event["sourceList"] = [{"type": "owning_party", "source": SGLN[at]}]
        event["destinationList"] = [{"type": "owning_party", "destination": SGLN[to or ""]}]
    if step == "receiving":
        event["destinationList"] = [{"type": "owning_party", "destination": SGLN[at]}]
    return event


def document() -> dict[str, object]:
    """September 2026 at another system: commissioned, shipped to D-GZ, six sent on to S-GZ-1, two sold."""
    events = [
        _event(1, "commissioning", SERIALS, "PLANT-1", "2026-09-01T08:00:00+08:00", action="ADD",
               disposition="active"),
        _event(2, "shipping", SERIALS, "PLANT-1", "2026-09-02T09:00:00+08:00", to="D-GZ", disposition="in_transit"),
        _event(3, "receiving", ON_TO_STORE, "D-GZ", "2026-09-03T10:00:00+08:00", disposition="in_progress"),
        _event(4, "shipping", ON_TO_STORE, "D-GZ", "2026-09-10T09:00:00+08:00", to="S-GZ-1",
               disposition="in_transit"),
        _event(5, "retail_selling", SOLD[:1], "S-GZ-1", "2026-09-15T11:00:00+08:00", disposition="retail_sold"),
        _event(6, "retail_selling", SOLD[1:], "S-GZ-1", "2026-09-20T16:30:00+08:00", disposition="retail_sold"),
    ]  # fmt: skip
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-09-20T17:00:00+08:00",
        "epcisBody": {"eventList": events},
    }  # fmt: skip


def _labels() -> list[LabelData]:
    """The six unit labels of the case: QR (Digital Link) and, every third, GS1 DataMatrix (element string)."""
    out = []
    for i, serial in enumerate(IN_CASE):
        lines = (f"(01) {GTIN}", f"(21) {serial}", f"(10) {LOT}", f"(17) {EXPIRY}")
        pairs = (("01", GTIN), ("21", serial), ("10", LOT), ("17", EXPIRY))
        if i % 3 == 2:
            out.append(LabelData(i, CodeLevel.unit, LabelSymbology.datamatrix, "", pairs, lines))
        else:
            out.append(LabelData(i, CodeLevel.unit, LabelSymbology.qr, digital_link(serial), (), lines))
    return out


def _label_images() -> list[Image.Image]:
    """Each label printed the project's way (PDF on the 50 x 30 mm roll), rasterised at ``DPI``."""
    pdf = io.BytesIO()
    write_pdf(_labels(), template=get_template("roll-50x30"), out=pdf, title="case top", invariant=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "labels.pdf"
        source.write_bytes(pdf.getvalue())
        subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", str(source), str(Path(tmp) / "p")], check=True)
        return [Image.open(p).convert("L").copy() for p in sorted(Path(tmp).glob("p-*.png"))]


def case_top() -> Image.Image:
    """A carton top with the six labels stuck on it, slightly askew, under soft light."""
    rng = np.random.default_rng(SEED)
    width, height = 1600, 900
    fibres = rng.normal(0, 7, (height // 4, width // 4)).astype(np.float32)
    grain = np.asarray(Image.fromarray(fibres).resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    shade = np.linspace(1.04, 0.9, width, dtype=np.float32)[None, :] * np.linspace(1.0, 0.94, height)[:, None]
    base = np.array([196, 160, 116], dtype=np.float32)
    carton = (base[None, None, :] * shade[..., None] + grain[..., None]).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(carton, "RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height // 2 - 60, width, height // 2 + 60), fill=(205, 180, 140))  # packing tape
    for i, label in enumerate(_label_images()):
        tilted = label.convert("RGBA").rotate(float(rng.uniform(-4, 4)), resample=Image.Resampling.BICUBIC,
                                              expand=True, fillcolor=(0, 0, 0, 0))  # fmt: skip
        col, row = i % 3, i // 3
        x = 40 + col * 520 + int(rng.integers(-12, 12))
        y = 70 + row * 420 + int(rng.integers(-12, 12))
        shadow = Image.new("RGBA", tilted.size, (40, 30, 20, 0))
        shadow.putalpha(tilted.getchannel("A").point(lambda a: a * 90 // 255))
        image.paste(shadow, (x + 6, y + 8), shadow.filter(ImageFilter.GaussianBlur(4)))
        image.paste(tilted, (x, y), tilted)
    return image.filter(ImageFilter.GaussianBlur(0.7))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "document.jsonld").write_text(json.dumps(document(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    case_top().save(OUT / "case-top.jpg", quality=90, optimize=True)
    (OUT / "case-top.txt").write_text("".join(digital_link(s) + "\n" for s in IN_CASE), encoding="utf-8")
    sys.stdout.write(f"wrote {OUT / 'document.jsonld'}, {OUT / 'case-top.jpg'}, {OUT / 'case-top.txt'}\n")


if __name__ == "__main__":
    main()
