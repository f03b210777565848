"""EPCIS 2.0 master data captured in a document's header (``epcisHeader.epcisMasterData.vocabularyList``).

One row per vocabulary element, keyed by its vocabulary type and id (``urn:epcglobal:epcis:vtype:BusinessLocation``
and an SGLN, say). The element keeps what its latest accepted capture said — its attributes and children as EPCIS
JSON-LD spells them — and who owns it: the party whose key wrote it first, or the brand once a brand-side key has
written it, so that no other party can overwrite it (``scanning.masterdata``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["VocabularyElement"]


class VocabularyElement(SQLModel, table=True):
    """A master data vocabulary element: its attributes and children, its owner, and the capture that last set it."""

    __tablename__ = "epcis_vocabulary_element"
    __table_args__ = (
        UniqueConstraint("vocabulary_type", "element_id", name="uq_epcis_vocabulary_element"),
        Index("ix_epcis_vocabulary_element_id", "element_id"),
        Index("ix_epcis_vocabulary_owner", "owner_party_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    vocabulary_type: str = Field(max_length=300)
    """The vocabulary's type URI, as captured (``urn:epcglobal:epcis:vtype:ReadPoint``, a URI of one's own)."""
    element_id: str = Field(max_length=300)
    attributes: str = Field(sa_type=Text)
    """The attributes as EPCIS JSON-LD lists them, as JSON: ``[{"id": "urn:…:name", "attribute": "…"}, …]``."""
    children: str = Field(sa_type=Text)
    """The ids of the element's children, as JSON: ``["urn:epc:id:sgln:…", …]`` (``[]`` when it has none)."""
    context: str | None = Field(default=None, sa_type=Text)
    """The JSON-LD prefixes its attributes use (``{"example": "http://example.com/ns/"}``), from the capturing
    document's ``@context``, so a stored ``example:Address`` keeps its namespace; None when it uses none."""
    owner_party_id: str | None = Field(default=None, foreign_key="party.id", max_length=64)
    """The party whose key wrote it first (None: the brand's own tools, with no key)."""
    owner_brand: bool = False
    """Whether a brand-side key owns it: then only brand-side keys may change it."""
    capture_id: int | None = Field(default=None, foreign_key="capture.id")
    """The capture that last changed it."""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
