"""API-key administration, admin only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from traceability.api import RowId, SessionDep, allow
from traceability.auth import service
from traceability.auth.service import Principal
from traceability.models import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/apikeys", tags=["api keys"])
Admin = Annotated[Principal, Depends(allow(Role.admin))]


class ApiKeyCreate(BaseModel):
    role: Role
    party_id: str
    name: str = ""


class ApiKeyIssued(BaseModel):
    id: int
    token: str
    role: Role
    party_id: str


class ApiKeyRead(BaseModel):
    id: int
    prefix: str
    role: Role
    party_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


@router.post("", response_model=ApiKeyIssued, status_code=201)
def create_api_key(session: SessionDep, _: Admin, body: ApiKeyCreate) -> Any:
    """Issue a key; the token is in this response only."""
    return service.create_api_key(session=session, role=body.role, party_id=body.party_id, name=body.name)


@router.get("", response_model=list[ApiKeyRead])
def list_api_keys(session: SessionDep, _: Admin) -> list[Any]:
    return service.list_api_keys(session=session)


@router.delete("/{key_id}", response_model=ApiKeyRead)
def revoke_api_key(session: SessionDep, _: Admin, key_id: RowId) -> Any:
    return service.revoke_api_key(session=session, key_id=key_id)
