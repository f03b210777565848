"""``traceability labels``: print jobs for packaging plants (create, print, reprint, void, close, reconcile).

``labels.service`` (the PDF, ZPL and symbol writers) is imported inside each command, so every other command of
the CLI starts without it."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli.context import err_console, grouped, out_console, output_file, print_json, state, terminal_language
from codes.service import key_store
from labels.schemas import JobRead
from traceability.i18n import Catalogue, messages, wording
from traceability.models import CodeLevel, LabelSymbology, PrintFormat, PrintJob, PrintJobStatus

__all__ = ["app"]

_WORDS: Catalogue = messages("cli.labels")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""

app = typer.Typer(help="Label print jobs: create, print PDF / ZPL, reprint, void, close, reconcile.",
                  no_args_is_help=True)  # fmt: skip

_BY_HELP = "Who does this (kept on record)."


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): the record then says so
        return "unknown"


@contextmanager
def _progress(what: str, total: int) -> Iterator[Callable[[int], None]]:
    columns = (TextColumn(what, markup=False), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


def _job_row(job: PrintJob) -> list[str]:
    return [str(job.id), job.party_id, job.lot or "", str(job.quantity), str(job.level), job.template,
            str(job.status)]  # fmt: skip


_JOB_COLUMNS = ("job", "party", "lot", "qty", "level", "template", "status")


def _job_json(job: PrintJob) -> dict[str, object]:
    return JobRead.model_validate(job, from_attributes=True).model_dump(mode="json")


@app.command("templates")
def templates(fmt: Literal["table", "json"] = typer.Option("table", "--format")) -> None:
    """List label templates (sheets for office printers, rolls for thermal printers)."""
    from labels import service

    rows = service.list_templates()
    if fmt == "json":
        print_json([{"id": t.id, "title": t.title, "kind": t.kind, "page_mm": t.page_mm, "label_mm": t.label_mm,
                     "per_page": t.per_page, "levels": sorted(t.levels), "formats": list(t.formats)}
                    for t in rows])  # fmt: skip
        return
    table = Table("template", "labels", "levels", "formats", "description")
    for t in rows:
        table.add_row(t.id, str(t.per_page), ", ".join(sorted(t.levels)), ", ".join(t.formats), t.title)
    out_console.print(table)


@app.command("create")
def create(
    ctx: typer.Context,
    party: str = typer.Option(..., help="The plant that prints (master-data party id)."),
    gtin: str = typer.Option(..., help="GTIN-14 of the product."),
    lot: str | None = typer.Option(None, help="Batch / lot (AI 10)."),
    expiry: str | None = typer.Option(None, help="Expiry date YYMMDD (AI 17)."),
    quantity: int = typer.Option(..., min=1, help="How many labels."),
    level: CodeLevel = typer.Option(CodeLevel.unit, help="unit, case or pallet."),
    template: str = typer.Option(..., help="Template id (see `labels templates`)."),
    symbology: LabelSymbology | None = typer.Option(None, "--symbol", help="Unit labels: qr (default) or datamatrix."),
    by: str = typer.Option(_user, help=_BY_HELP),
) -> None:
    """Create a print job and draw its codes (signed unit codes, or SSCCs for cases and pallets)."""
    from labels import service

    if quantity > service.MAX_QUANTITY:
        raise typer.BadParameter(f"at most {service.MAX_QUANTITY:,}", param_hint="'--quantity'")
    st, lang = state(ctx), terminal_language()
    with st.session() as session, _progress(wording(_WORDS, "drawing", lang), quantity) as advance:
        job = service.create_job(
            session=session, store=key_store(st.settings), party_id=party, gtin=gtin, lot=lot, expiry=expiry,
            quantity=quantity, level=level, template=template, by=by, symbology=symbology,
            company_prefix_length=st.settings.company_prefix_length, progress=advance,
        )  # fmt: skip
    err_console.print(wording(_WORDS, "created", lang, job_id=job.id, quantity=grouped(quantity, lang),
                              level=wording(_WORDS, f"level.{level.value}", lang), template=job.template),
                      markup=False)  # fmt: skip
    typer.echo(job.id)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    party: str | None = typer.Option(None, help="Only this plant's jobs."),
    status: PrintJobStatus | None = typer.Option(None),
    limit: int = typer.Option(100, min=1),
    fmt: Literal["table", "json"] = typer.Option("table", "--format"),
) -> None:
    """List print jobs, newest first."""
    from labels import service

    with state(ctx).session() as session:
        jobs = service.list_jobs(session=session, party_id=party, status=status, limit=limit)
    if fmt == "json":
        print_json([_job_json(j) for j in jobs])
        return
    table = Table(*_JOB_COLUMNS)
    for job in jobs:
        table.add_row(*_job_row(job))
    out_console.print(table)


@app.command("show")
def show(ctx: typer.Context, job_id: int) -> None:
    """Show one print job as JSON."""
    from labels import service

    with state(ctx).session() as session:
        print_json(_job_json(service.get_job(session=session, job_id=job_id)))


@app.command("print")
def print_(
    ctx: typer.Context,
    job_id: int,
    out: Path = typer.Option(..., "--out", dir_okay=False, help="File to write (.pdf or .zpl)."),
    fmt: PrintFormat | None = typer.Option(None, "--format", help="pdf or zpl (default: from the file name)."),
    by: str = typer.Option(_user, help=_BY_HELP),
) -> None:
    """Print a job's labels (once) as PDF or ZPL; its codes are marked printed."""
    from labels import service

    fmt = fmt or (PrintFormat.zpl if out.suffix.lower() == ".zpl" else PrintFormat.pdf)
    st, lang = state(ctx), terminal_language()
    with output_file(out, replace=True) as part:
        with st.session() as session, part.open("wb") as fh:
            job = service.get_job(session=session, job_id=job_id)
            with _progress(wording(_WORDS, "printing", lang, format=fmt.value.upper()), job.quantity) as advance:
                result = service.print_job(session=session, job_id=job_id, fmt=fmt, out=fh, by=by,
                                           resolver=st.settings.resolver, progress=advance)  # fmt: skip
    err_console.print(wording(_WORDS, "printed", lang, labels=grouped(result.labels, lang), job_id=job_id, out=out),
                      markup=False)  # fmt: skip


@app.command("reprint")
def reprint(
    ctx: typer.Context,
    job_id: int,
    code: str = typer.Argument(..., help="Serial, SSCC, or the scanned code of the damaged label."),
    reason: str = typer.Option(..., help="Why (kept on record)."),
    by: str = typer.Option(..., help=_BY_HELP),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="File to write (.pdf or .zpl)."),
    fmt: PrintFormat | None = typer.Option(None, "--format", help="pdf or zpl (default: the job's)."),
    slot: int = typer.Option(0, min=0, help="Sheet position to print on (0 = top left), to use up a sheet."),
) -> None:
    """Print one damaged label again, with the same code; logged with who and why."""
    from labels import service

    st = state(ctx)
    with output_file(out, replace=True) as part:
        with st.session() as session, part.open("wb") as fh:
            log = service.reprint_label(session=session, job_id=job_id, code=code, reason=reason, by=by, out=fh,
                                        resolver=st.settings.resolver, fmt=fmt, first_slot=slot)  # fmt: skip
    err_console.print(wording(_WORDS, "reprinted", terminal_language(), code_id=log.code_id, job_id=job_id,
                              reprint_id=log.id, out=out), markup=False)  # fmt: skip


@app.command("void")
def void(
    ctx: typer.Context,
    job_id: int,
    code: str = typer.Argument(..., help="Serial, SSCC, or the scanned code."),
    reason: str = typer.Option(..., help="Why (kept on record)."),
    by: str = typer.Option(..., help=_BY_HELP),
) -> None:
    """Void a code before commissioning: it can never be commissioned; logged with who and why."""
    from labels import service

    with state(ctx).session() as session:
        log = service.void_label(session=session, job_id=job_id, code=code, reason=reason, by=by)
    err_console.print(wording(_WORDS, "voided", terminal_language(), code_id=log.code_id, job_id=job_id,
                              previous=log.previous_status), markup=False)  # fmt: skip


@app.command("close")
def close(ctx: typer.Context, job_id: int, by: str = typer.Option(_user, help=_BY_HELP)) -> None:
    """Close a printed job: no more reprints."""
    from labels import service

    with state(ctx).session() as session:
        service.close_job(session=session, job_id=job_id, by=by)
    err_console.print(wording(_WORDS, "closed", terminal_language(), job_id=job_id), markup=False)


@app.command("reconcile")
def reconcile(
    ctx: typer.Context,
    job_ids: list[int] = typer.Argument(..., help="One or more print jobs."),
    fmt: Literal["table", "csv", "json"] = typer.Option("table", "--format"),
    out: Path | None = typer.Option(None, "--out", dir_okay=False, help="Write to a file (CSV unless --format json)."),
    check: bool = typer.Option(False, "--check", help="Exit 1 if any job has codes unaccounted for."),
    lang: Literal["zh-CN", "en"] | None = typer.Option(
        None, "--lang", help="Headers' language, zh-CN or en (default: the machine column names, for scripts)."),
) -> None:
    """Per job: issued, printed, reprinted, voided, commissioned, and the difference still unaccounted for."""
    from labels import service

    with state(ctx).session() as session:
        reports = [service.reconcile(session=session, job_id=job_id) for job_id in job_ids]
    if fmt == "table" and out is None:
        table = Table(*service.reconciliation_headers(lang))
        for report in reports:
            cells = [str(v) for v in report.as_dict().values()]
            if report.difference:
                cells[-1] = f"[bold red]{cells[-1]}[/]"
            table.add_row(*cells)
        out_console.print(table)
    else:
        text = (json.dumps([r.as_dict() for r in reports], indent=2) + "\n" if fmt == "json"
                else service.reconciliation_csv(reports, lang=lang))  # fmt: skip
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
            err_console.print(wording(_WORDS, "wrote", terminal_language(), path=out), markup=False)
    if check and any(r.difference for r in reports):
        raise typer.Exit(1)
