"""Master-data API: import (admin) and read (every role, scoped to the caller's party)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header

from traceability.api import SessionDep, allow
from traceability.auth.service import Principal
from traceability.i18n import negotiate
from traceability.masterdata import service
from traceability.masterdata.schemas import ImportSummary, PartyRead, ProductRead, TerritoryRead
from traceability.models import PartyKind, Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["master data"])
Admin = Annotated[Principal, Depends(allow(Role.admin))]
Anyone = Annotated[Principal, Depends(allow(*Role))]


async def _lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    """The problems' language, from ``Accept-Language`` (Simplified Chinese unless the client prefers English)."""
    return negotiate(accept_language)


Lang = Annotated[str, Depends(_lang)]


@router.post("/masterdata", response_model=ImportSummary)
def import_masterdata(
    session: SessionDep, _: Admin, lang: Lang, document: Annotated[dict[str, Any], Body()]
) -> ImportSummary:
    """Import territories, parties and products; invalid documents are rejected whole with every problem."""
    return service.import_masterdata(session=session, raw=document, lang=lang)


@router.get("/territories", response_model=list[TerritoryRead])
def list_territories(session: SessionDep, _: Anyone) -> list[Any]:
    return service.list_territories(session=session)


@router.get("/parties", response_model=list[PartyRead])
def list_parties(session: SessionDep, principal: Anyone, kind: PartyKind | None = None) -> list[Any]:
    return service.list_parties(session=session, principal=principal, kind=kind)


@router.get("/parties/{party_id}", response_model=PartyRead)
def get_party(session: SessionDep, principal: Anyone, party_id: str) -> Any:
    return service.get_party(session=session, principal=principal, party_id=party_id)


@router.get("/products", response_model=list[ProductRead])
def list_products(session: SessionDep, _: Anyone) -> list[Any]:
    return service.list_products(session=session)
