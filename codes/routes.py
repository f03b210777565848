"""Codes API: verify a scanned code, read a code's state, pack and unpack, read the public keyring."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from codes import service
from codes.schemas import AggregateRequest, CodeRead, KeyRead, VerifyRequest, VerifyResult
from traceability.api import SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.models import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["codes"])
Anyone = Annotated[Principal, Depends(allow(*Role))]
Packer = Annotated[Principal, Depends(allow(Role.plant, Role.admin))]
KeyViewer = Annotated[Principal, Depends(allow(Role.admin, Role.auditor))]


@router.post("/codes/verify", response_model=VerifyResult)
def verify_code(session: SessionDep, settings: SettingsDep, principal: Anyone, body: VerifyRequest) -> VerifyResult:
    """Verify a code's signature and say whether it was issued; its state only when the caller may see it."""
    check = service.verify_text(session=session, text=body.code, store=service.key_store(settings))
    ident = check.code.identity
    visible = check.record is not None and principal.may_see_party(check.record.holder_id)
    return VerifyResult(
        ok=check.verification.ok,
        reason=check.verification.reason,
        message=check.verification.message,
        key_id=check.code.key_id,
        gtin=ident.gtin,
        serial=ident.serial,
        lot=ident.lot,
        expiry=ident.expiry,
        issued=check.issued,
        status=check.record.status if (visible and check.record is not None) else None,
    )


@router.get("/codes/{gtin}/{serial}", response_model=CodeRead)
def get_code(session: SessionDep, principal: Anyone, gtin: str, serial: str) -> Any:
    """A code's record; parties see only the codes they hold."""
    return service.get_code(session=session, principal=principal, gtin=gtin, serial=serial)


@router.post("/codes/aggregate", response_model=CodeRead)
def aggregate(session: SessionDep, principal: Packer, body: AggregateRequest) -> Any:
    """Pack units into a case or cases into a pallet."""
    return service.aggregate(session=session, parent=body.parent, children=body.children, party_id=principal.party_id)


@router.post("/codes/disaggregate", response_model=list[CodeRead])
def disaggregate(session: SessionDep, principal: Packer, body: AggregateRequest) -> list[Any]:
    """Unpack the listed children from their parent."""
    return service.disaggregate(
        session=session, parent=body.parent, children=body.children, party_id=principal.party_id
    )


@router.get("/keys", response_model=list[KeyRead])
def list_keys(session: SessionDep, _: KeyViewer) -> list[Any]:
    """Key records (never private material)."""
    return service.list_keys(session=session)


@router.get("/keys/public")
def public_keyring(session: SessionDep, _: Anyone) -> dict[str, Any]:
    """The public keyring for offline verification by scanners."""
    data: dict[str, Any] = service.keyring(session=session).to_json_dict()
    return data
