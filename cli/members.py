"""``traceability members``: a member's points and six-get-one standing, and redeeming a free unit."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.context import print_json, state
from rebates import service
from rebates.policy import load_policy
from traceability.auth.service import Principal
from traceability.models import Role
from traceability.privacy import member_hash, member_pepper

app = typer.Typer(help="Members: points and free units (six-get-one).", no_args_is_help=True)

_POLICY = typer.Option(
    None, "--policy", exists=True, dir_okay=False,
    help="Policy file (TOML); default $TRACEABILITY_POLICY_FILE (the settings), else the defaults.",
)  # fmt: skip


@app.command("points")
def points(
    ctx: typer.Context,
    phone: str = typer.Option(..., "--phone", help="The member's phone (hashed, never stored)."),
    policy: Path | None = _POLICY,
) -> None:
    """Points balance, six-get-one standing and history."""
    st = state(ctx)
    hashed = member_hash(phone, member_pepper(st.settings.key_dir))
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        print_json(service.member_summary(session=session, member_hash=hashed, policy=rules).as_dict())


@app.command("redeem")
def redeem(
    ctx: typer.Context,
    phone: str = typer.Option(..., "--phone"),
    store: str = typer.Option(..., "--store"),
    unit: str | None = typer.Option(None, "--unit", help="The free unit's code, if scanned."),
    policy: Path | None = _POLICY,
) -> None:
    """Give the free unit a member earned, and record it."""
    st = state(ctx)
    hashed = member_hash(phone, member_pepper(st.settings.key_dir))
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        row = service.redeem_free_item(session=session, member_hash=hashed, store_id=store,
                                       policy=rules, principal=Principal(role=Role.admin, party_id=store),
                                       unit=unit, company_prefix_length=st.settings.company_prefix_length)  # fmt: skip
        print_json({"id": row.id, "store": row.store_id, "unit": row.unit_key, "redeemed_at": row.redeemed_at})
