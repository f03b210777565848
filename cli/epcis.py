"""``traceability epcis``: capture documents, query and export the store, verify the hash chain."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer

from cli.context import CliState, err_console, grouped, print_json, state, terminal_language
from codes.service import key_store
from ledger import store
from ledger.errors import CheckpointInvalid
from rebates.facts import facts_drift
from scanning import epcis, epcis_check, epcis_xml
from scanning.epcis_stream import read_json
from scanning.errors import InvalidDocument
from traceability.errors import Problem
from traceability.i18n import Catalogue, messages, wording
from traceability.privacy import member_pepper

app = typer.Typer(help="GS1 EPCIS 2.0 event store.", no_args_is_help=True)

_WORDS: Catalogue = messages("cli.epcis")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``); the
documents' own problems keep their ``--lang``."""


class Lang(StrEnum):
    zh = "zh-CN"
    en = "en"


_SNIFF = 4096
"""Bytes read to tell XML from JSON."""


def _loads(raw: bytes) -> object:
    """What a JSON file is read as: strict UTF-8, so a BOM or an odd encoding is refused by name."""
    return json.loads(raw.decode("utf-8"))


_LANG = typer.Option(Lang.zh, "--lang", help="Language of the messages: zh-CN or en.")


@app.command("capture")
def capture(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                       help="EPCISDocument files: JSON / JSON-LD, or EPCIS 2.0 XML (.xml)."),
    proceed: bool = typer.Option(False, help="Store the valid events and report the others (default: all or none)."),
    party: str | None = typer.Option(None, help="Party that sends the document."),
    lang: Lang = _LANG,
) -> None:
    """Capture EPCIS documents; each file is one all-or-nothing capture unless --proceed. XML is validated against
    GS1's XSD first when the settings name its folder (TRACEABILITY_EPCIS_XSD_DIR)."""
    st, words = state(ctx), terminal_language()
    results = []
    for path in files:
        with path.open("rb") as file:
            head = file.read(_SNIFF)
            while head and not head.strip() and (more := file.read(_SNIFF)):  # all white space so far
                head += more
            if epcis_check.is_xml(path, head):  # EPCIS 2.0 XML, stored as the same JSON-LD events
                document = epcis_xml.parse_document(head + file.read(), xsd_dir=st.settings.epcis_xsd_dir,
                                                    lang=lang.value)  # fmt: skip
            else:  # a large file is mapped and its events streamed, never read into memory whole
                try:
                    document = read_json(file, loads=_loads)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise InvalidDocument(f"{path} is not JSON: {exc}", [Problem("", "not JSON")]) from None
        with st.session() as session:
            result = epcis.capture_document(
                session=session, document=document, proceed=proceed, party_id=party,
                schema_path=st.settings.epcis_schema, member_pepper=member_pepper(st.settings.key_dir),
            )  # fmt: skip
        summary = result.as_dict()
        summary["file"] = str(path)
        results.append(summary)
        err_console.print(
            wording(_WORDS, "captured", words, file=path, stored=grouped(len(result.stored), words),
                    duplicates=grouped(len(result.duplicates), words), refused=grouped(len(result.refused), words)),
            highlight=False, markup=False,
        )  # fmt: skip
    print_json(results if len(results) > 1 else results[0])


@app.command("validate")
def validate(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                       help="EPCISDocument files: JSON / JSON-LD, or EPCIS 2.0 XML (.xml)."),
    lang: Lang = _LANG,
) -> None:
    """Check EPCIS documents without storing anything and report every problem of each (XML against GS1's XSD too
    when the settings name its folder); exit 1 when any file has one."""
    st = state(ctx)
    bad = 0
    for path in files:
        report = epcis_check.check_file(path, path.read_bytes(), xsd_dir=st.settings.epcis_xsd_dir,
                                        schema_path=st.settings.epcis_schema, lang=lang.value)  # fmt: skip
        if report.ok:
            xsd = epcis_check.worded("ok_xsd", lang.value) if report.xsd_checked else ""
            typer.echo(epcis_check.worded("ok", lang.value, file=path, events=report.events, xsd=xsd))
            continue
        bad += 1
        # plain lines, never wrapped: a path or an XSD message is read (and grepped) whole
        typer.echo(epcis_check.worded("problems", lang.value, file=path, count=len(report.problems)), err=True)
        for problem in report.problems:
            typer.echo(f"  {problem.path or '/'}: {problem.reason}", err=True)
    if len(files) > 1:
        typer.echo(epcis_check.worded("summary", lang.value, files=len(files), bad=bad))
    if bad:
        raise typer.Exit(1)


@app.command("events")
def events(
    ctx: typer.Context,
    biz_step: list[str] = typer.Option(None, "--biz-step"),
    epc: list[str] = typer.Option(None, "--epc", help="Match any EPC (URN or Digital Link)."),
    limit: int = typer.Option(100),
) -> None:
    """Query the store; prints an EPCIS event list as JSON."""
    with state(ctx).session() as session:
        found, _ = epcis.query_events(
            session=session, query=epcis.EventQuery(biz_step=biz_step or None, match_epc=epc or None, limit=limit)
        )
    print_json(found)


@app.command("export")
def export(ctx: typer.Context, out: Path | None = typer.Option(None, "--out")) -> None:
    """Export the whole store as one EPCISDocument."""
    with state(ctx).session() as session:
        document = epcis.export_document(session=session)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text, encoding="utf-8")
        lang, events = terminal_language(), len(document["epcisBody"]["eventList"])
        err_console.print(wording(_WORDS, "exported", lang, events=grouped(events, lang), out=out), markup=False)


@app.command("verify-chain")
def verify_chain(
    ctx: typer.Context,
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="A checkpoint file (from `epcis checkpoint`): also prove nothing before it changed."
    ),
) -> None:
    """Prove that no stored event, column or identifier was altered or removed, and that sales and purchases are
    what the events say (walks the hash chain; a signed checkpoint also catches a rewrite of the whole chain)."""
    st = state(ctx)
    signed = _read_checkpoint(st, checkpoint) if checkpoint is not None else None
    with st.session() as session:
        report = store.verify_chain(session=session, checkpoint=signed)
        problems = report.problems + facts_drift(session=session)
    if not problems:
        lang = terminal_language()
        events = grouped(report.events, lang)
        typer.echo(wording(_WORDS, "intact_since", lang, events=events, at=signed.at, seq=signed.seq) if signed
                   else wording(_WORDS, "intact", lang, events=events))  # fmt: skip
        return
    for problem in problems:
        err_console.print(f"[red]{problem}[/]", highlight=False)
    raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Where to write the signed checkpoint (JSON); keep a copy elsewhere."),
) -> None:
    """Sign the chain head with the checkpoint key (kept in the key directory, never in the database)."""
    st, lang = state(ctx), terminal_language()
    with st.session() as session:
        report = store.verify_chain(session=session)
        if not report.ok:
            for problem in report.problems:
                err_console.print(f"[red]{problem}[/]", highlight=False)
            err_console.print(wording(_WORDS, "broken", lang), markup=False)
            raise typer.Exit(1)
        signed = store.sign_checkpoint(session=session, key=store.chain_key(key_store(st.settings)),
                                       key_id=store.CHAIN_KEY_ID)  # fmt: skip
    out.write_text(json.dumps(signed.as_dict(), indent=2) + "\n", encoding="utf-8")
    typer.echo(wording(_WORDS, "signed", lang, seq=signed.seq, head=signed.head[:16], at=signed.at, out=out))


def _read_checkpoint(st: CliState, path: Path) -> store.Checkpoint:
    try:
        signed = store.Checkpoint.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CheckpointInvalid(f"checkpoint file {path} not found") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointInvalid(f"checkpoint file {path} is not a checkpoint: {exc}") from None
    public = key_store(st.settings).load_private(signed.key_id).public_key()
    if not store.checkpoint_signed_by(signed, public):
        raise CheckpointInvalid(f"checkpoint file {path} is not signed by this system's checkpoint key")
    return signed
