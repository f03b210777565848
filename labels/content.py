"""What goes on one label: the symbol's payload and the human-readable lines, built from a code's record.

Payloads come from :mod:`codes.render`, the same functions that define the printed forms, so a label carries
exactly the text that :func:`codes.render.parse_code` reads back. Human-readable lines use the GS1 form
``(AI) value`` so that a person can key in what a scanner could not read.
"""

from __future__ import annotations

from dataclasses import dataclass

from codes.identity import CodeIdentity
from codes.render import encode_signature, to_digital_link, to_element_string
from codes.signing import SignedCode
from traceability.models import CodeLevel, LabelSymbology

__all__ = ["CodeRow", "LabelData", "logistic_label", "unit_label"]


@dataclass(frozen=True, slots=True)
class CodeRow:
    """The columns of a ``code`` row a label needs (read in bulk, without ORM objects)."""

    id: int
    level: str
    gtin: str | None
    serial: str | None
    sscc: str | None
    lot: str | None
    expiry: str | None
    key_id: str | None
    signature: bytes | None


@dataclass(frozen=True, slots=True)
class LabelData:
    """One label: its 2D symbol's payload, its human-readable lines and, for cases and pallets, the SSCC."""

    code_id: int
    level: CodeLevel
    symbology: LabelSymbology
    text: str
    """What a scanner returns for the 2D symbol, after the symbology identifier (GS1 separators as GS)."""
    gs1: tuple[tuple[str, str], ...]
    """The AI/value pairs of a GS1 symbol (DataMatrix), in order; empty for a Digital Link QR code."""
    lines: tuple[str, ...]
    sscc: str | None = None
    title: str | None = None
    variable: frozenset[int] = frozenset()
    """Indices of the lines that differ from label to label of a job (the serial); the others are the job's."""


_SERIAL_LINE = frozenset({1})


def unit_label(row: CodeRow, *, symbology: LabelSymbology, resolver: str) -> LabelData:
    """A unit label: the signed code as Digital Link (QR) or element string (DataMatrix), and GTIN/serial/lot/expiry."""
    if row.gtin is None or row.serial is None or row.key_id is None or row.signature is None:
        raise ValueError(f"code {row.id} is not a signed unit code")
    code = SignedCode(CodeIdentity(row.gtin, row.serial, row.lot, row.expiry), row.key_id, row.signature)
    lines = [f"(01) {row.gtin}", f"(21) {row.serial}"]
    pairs: list[tuple[str, str]] = [("01", row.gtin), ("21", row.serial)]
    if row.lot is not None:
        lines.append(f"(10) {row.lot}")
        pairs.append(("10", row.lot))
    if row.expiry is not None:
        lines.append(f"(17) {row.expiry}")
        pairs.append(("17", row.expiry))
    gs1: tuple[tuple[str, str], ...] = ()
    if symbology is LabelSymbology.qr:
        text = to_digital_link(code, resolver)
    else:
        text = to_element_string(code)
        gs1 = (*pairs, ("91", code.key_id), ("92", encode_signature(code.signature)))
    return LabelData(row.id, CodeLevel.unit, symbology, text, tuple(gs1), tuple(lines), variable=_SERIAL_LINE)


def logistic_label(
    row: CodeRow, *, content_gtin: str, count: int | None, lot: str | None, expiry: str | None
) -> LabelData:
    """A case or pallet label: the SSCC (GS1-128 and DataMatrix) and what the logistic unit holds."""
    if row.sscc is None:
        raise ValueError(f"code {row.id} has no SSCC")
    level = CodeLevel(row.level)
    lines = [f"(02) {content_gtin}"]
    if count is not None:
        lines.append(f"(37) {count}")
    if lot is not None:
        lines.append(f"(10) {lot}")
    if expiry is not None:
        lines.append(f"(17) {expiry}")
    return LabelData(
        code_id=row.id, level=level, symbology=LabelSymbology.datamatrix, text=f"00{row.sscc}",
        gs1=(("00", row.sscc),), lines=tuple(lines), sscc=row.sscc, title=f"{level.value.upper()}  SSCC",
    )  # fmt: skip
