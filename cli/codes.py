"""``traceability codes``: keys, generation, offline verification, aggregation."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from cli.context import (
    err_console,
    grouped,
    out_console,
    output_file,
    print_json,
    state,
    terminal_language,
    usage_error,
)
from codes import service
from codes.keyfiles import public_key_from_raw, public_key_to_pem
from codes.render import parse_code
from codes.signing import Keyring, Verification, verify
from traceability.errors import NotFound
from traceability.i18n import Catalogue, messages, wording
from traceability.models import CodeLevel, KeyAlgorithm

_WORDS: Catalogue = messages("cli.codes")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""

app = typer.Typer(help="Signed codes: keys, generation, verification, aggregation.", no_args_is_help=True)
keys_app = typer.Typer(help="Signing keys (private halves stay in key files).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    key_id: str | None = typer.Option(None, help="Key id (default: K1, K2, …)."),
    hmac: bool = typer.Option(False, "--hmac", help="A compact-mode HMAC secret instead of an Ed25519 key."),
) -> None:
    """Create the first signing key."""
    st = state(ctx)
    algorithm = KeyAlgorithm.hmac if hmac else KeyAlgorithm.ed25519
    with st.session() as session:
        row = service.create_key(session=session, store=service.key_store(st.settings), key_id=key_id,
                                 algorithm=algorithm)  # fmt: skip
    typer.echo(wording(_WORDS, "created", terminal_language(), algorithm=algorithm.value, key_id=row.key_id,
                       key_dir=st.settings.key_dir))  # fmt: skip


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    key_id: str | None = typer.Option(None, help="Id of the new key."),
    hmac: bool = typer.Option(False, "--hmac", help="Rotate the compact-mode HMAC secret."),
) -> None:
    """Make a new key active; the old one retires and its codes keep verifying."""
    st = state(ctx)
    algorithm = KeyAlgorithm.hmac if hmac else KeyAlgorithm.ed25519
    with st.session() as session:
        row = service.rotate_key(session=session, store=service.key_store(st.settings), key_id=key_id,
                                 algorithm=algorithm)  # fmt: skip
    typer.echo(wording(_WORDS, "rotated", terminal_language(), key_id=row.key_id, algorithm=algorithm.value))


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str, reason: str = typer.Option(..., help="Why (kept on record).")) -> None:
    """Revoke a key: codes it signed fail verification from now on."""
    with state(ctx).session() as session:
        service.revoke_key(session=session, key_id=key_id, reason=reason)
    typer.echo(wording(_WORDS, "revoked", terminal_language(), key_id=key_id))


@keys_app.command("list")
def keys_list(ctx: typer.Context, fmt: Literal["table", "json"] = typer.Option("table", "--format")) -> None:
    """List keys and their status."""
    with state(ctx).session() as session:
        rows = service.list_keys(session=session)
    if fmt == "json":
        print_json([r.model_dump(exclude={"public_key"}) for r in rows])
        return
    table = Table("key id", "algorithm", "status", "created", "revoked reason")
    for r in rows:
        table.add_row(r.key_id, r.algorithm, r.status, f"{r.created_at:%Y-%m-%d %H:%M}", r.revoked_reason or "")
    out_console.print(table)


@keys_app.command("export-public")
def keys_export_public(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", help="File to write (default: standard output)."),
    pem: str | None = typer.Option(None, "--pem", metavar="KEY_ID", help="Export one key as PEM instead."),
) -> None:
    """Export the public keyring (JSON, with key status) for offline verification."""
    with state(ctx).session() as session:
        ring = service.keyring(session=session)
    if pem is not None:
        info = ring.get(pem)
        if info is None:
            raise NotFound(f"no Ed25519 key {pem!r}", key_id=pem)
        text = public_key_to_pem(public_key_from_raw(info.public_key)).decode()
    else:
        text = ring.to_json()
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(wording(_WORDS, "wrote", terminal_language(), path=out), markup=False)


@app.command("generate")
def generate(
    ctx: typer.Context,
    gtin: str = typer.Option(..., help="GTIN-14 of the product (or case GTIN with --level case)."),
    lot: str | None = typer.Option(None, help="Lot / batch (AI 10)."),
    expiry: str | None = typer.Option(None, help="Expiry date YYMMDD (AI 17)."),
    count: int = typer.Option(..., min=1, help="How many codes."),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="File to write, one code per line."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
    fmt: Literal["dl", "gs1", "gs1-human", "csv"] = typer.Option(
        "dl", "--format", help="dl (Digital Link), gs1, gs1-human or csv."
    ),
    level: CodeLevel = typer.Option(CodeLevel.unit, help="unit or case."),
    party: str | None = typer.Option(None, help="Party that holds the new codes (e.g. the plant)."),
    workers: int = typer.Option(1, min=1, help="Processes that sign in parallel."),
    chunk: int = typer.Option(5000, min=1, help="Codes per database write."),
) -> None:
    """Generate signed codes, streamed to a file and recorded in the database in bulk.

    A failure leaves no partial --out (it gets its name once the codes are recorded); an existing one needs --force."""
    st, lang = state(ctx), terminal_language()
    store = service.key_store(st.settings)
    with output_file(out, replace=force) as part:
        with st.session() as session, part.open("w", encoding="utf-8", newline="\n") as fh:
            signer = service.load_signer(session=session, store=store)
            columns = (TextColumn(wording(_WORDS, "signing", lang), markup=False), BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn())  # fmt: skip
            with Progress(*columns, console=err_console, transient=False) as bar:
                task = bar.add_task("codes", total=count)
                result = service.generate_codes(
                    session=session, signer=signer, gtin=gtin, lot=lot, expiry=expiry, count=count, out=fh,
                    fmt=fmt, resolver=st.settings.resolver, level=level, party_id=party, chunk_size=chunk,
                    workers=workers, key_dir=st.settings.key_dir, passphrase=service.passphrase(st.settings),
                    progress=lambda n: bar.advance(task, n),
                )  # fmt: skip
    err_console.print(wording(_WORDS, "issued", lang, issued=grouped(result.issued, lang), key_id=result.key_id,
                              batch_id=result.batch_id, out=out), markup=False)  # fmt: skip


def _offline_keyring(path: Path) -> Keyring:
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return Keyring.from_public_pem(data)
    return Keyring.from_json(data.decode("utf-8"))


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="The scanned text: Digital Link, element string or bare code."),
    public_key: Path | None = typer.Option(
        None, "--public-key", exists=True, dir_okay=False, help="Keyring JSON or PEM: verify offline, no database."
    ),
    fmt: Literal["text", "json"] = typer.Option("text", "--format"),
) -> None:
    """Verify a code's signature; offline with --public-key, else against the database, with the code's state."""
    st, lang = state(ctx), terminal_language()
    parsed = parse_code(code)
    status: str | None = None
    issued: bool | None = None
    if public_key is not None:
        result = verify(parsed, _offline_keyring(public_key))
    else:
        with st.session() as session:
            check = service.verify_text(session=session, text=code, store=service.key_store(st.settings))
        result = check.verification
        issued = check.issued
        status = str(check.record.status) if check.record is not None else None
    ident = parsed.identity
    report = {
        "ok": result.ok, "reason": result.reason, "message": result.message, "key_id": parsed.key_id,
        "gtin": ident.gtin, "serial": ident.serial, "lot": ident.lot, "expiry": ident.expiry,
        "issued": issued, "status": status,
    }  # fmt: skip
    if fmt == "json":
        print_json(report)
    else:
        mark = (wording(_WORDS, "genuine", lang), "green") if result.ok else (wording(_WORDS, "not_verified", lang),
                                                                             "red")  # fmt: skip
        out_console.print(Text.assemble(mark, " ", _verdict(result, lang)))
        out_console.print(wording(_WORDS, "identity", lang, gtin=ident.gtin, serial=ident.serial, lot=ident.lot or "-",
                                  expiry=ident.expiry or "-", key_id=parsed.key_id),
                          highlight=False, markup=False)  # fmt: skip
        if issued is not None:
            out_console.print(wording(_WORDS, "issued_yes" if issued else "issued_no", lang, status=status or "-"),
                              markup=False)  # fmt: skip
    if not result.ok or issued is False:
        raise typer.Exit(1)


def _verdict(result: Verification, lang: str) -> str:
    """What the verifier found: its own message in English (as scripts have read it), else worded by its reason."""
    if lang == "en":
        return result.message
    if result.ok:
        status = result.key_status if result.key_status not in (None, "active") else None
        return wording(_WORDS, "why.ok_status" if status else "why.ok", lang, key_id=result.key_id, status=status)
    return wording(_WORDS, f"why.{result.reason}", lang, key_id=result.key_id)


@app.command("sscc")
def sscc(
    ctx: typer.Context,
    company_prefix: str = typer.Option(..., help="GS1 company prefix."),
    count: int = typer.Option(1, min=1),
    level: CodeLevel = typer.Option(CodeLevel.case),
    party: str | None = typer.Option(None),
) -> None:
    """Allocate SSCCs for cases or pallets."""
    with state(ctx).session() as session:
        rows = service.allocate_ssccs(session=session, company_prefix=company_prefix, count=count, level=level,
                                      party_id=party)  # fmt: skip
        for r in rows:
            typer.echo(r.sscc)


@app.command("aggregate")
def aggregate(
    ctx: typer.Context,
    parent: str = typer.Argument(..., help="Case or pallet: SSCC or signed case code."),
    children: list[str] = typer.Argument(None, help="Child codes; or give --from-file."),
    from_file: Path | None = typer.Option(None, "--from-file", exists=True, help="One child code per line."),
    party: str | None = typer.Option(None),
) -> None:
    """Pack children into a parent."""
    items = list(children or []) + (_lines(from_file) if from_file else [])
    if not items:
        raise usage_error("give child codes or --from-file")
    with state(ctx).session() as session:
        service.aggregate(session=session, parent=parent, children=items, party_id=party)
    lang = terminal_language()
    typer.echo(wording(_WORDS, "packed", lang, count=grouped(len(items), lang), parent=parent))


@app.command("disaggregate")
def disaggregate(
    ctx: typer.Context,
    parent: str = typer.Argument(...),
    children: list[str] = typer.Argument(None, help="Children to unpack (default: all)."),
    party: str | None = typer.Option(None),
) -> None:
    """Unpack children from a parent."""
    with state(ctx).session() as session:
        rows = service.disaggregate(session=session, parent=parent, children=list(children) if children else None,
                                    party_id=party)  # fmt: skip
    lang = terminal_language()
    typer.echo(wording(_WORDS, "unpacked", lang, count=grouped(len(rows), lang), parent=parent))


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


__all__ = ["app", "json"]
