"""Who a party is, for the rules that depend on it: brand-owned or not, and which distributor it is or belongs to.

Read from master data (kind and owner); a party owned through any chain of owners by the brand or a plant is
brand-owned, and a distributor's own warehouse counts as that distributor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlmodel import Session, select

from ledger import masterdata
from traceability.models import Party

__all__ = ["PartyRoles"]

_BRAND_KINDS = frozenset({"brand", "plant"})
_DISTRIBUTOR = frozenset({"distributor"})


@dataclass(frozen=True)
class PartyRoles:
    """Frozen (read-only mappings): one value is shared by every request of a process (:mod:`ledger.masterdata`)."""

    kind: Mapping[str, str]
    owner: Mapping[str, str | None]

    @classmethod
    def load(cls, session: Session) -> PartyRoles:
        """Every party's kind and owner, reused until master data changes."""
        return masterdata.cached(session, "ledger.parties.roles", cls._fetch)

    @classmethod
    def _fetch(cls, session: Session) -> PartyRoles:
        rows = session.exec(select(Party.id, Party.kind, Party.owner_id)).all()
        return cls(
            kind=MappingProxyType({p: str(k) for p, k, _ in rows}),
            owner=MappingProxyType({p: o for p, _, o in rows}),
        )

    def chain(self, party: str | None) -> list[str]:
        """The party and its owners, up the chain (known parties only)."""
        out: list[str] = []
        while party is not None and party not in out and party in self.kind:
            out.append(party)
            party = self.owner.get(party)
        return out

    def _first(self, party: str | None, kinds: frozenset[str]) -> str | None:
        return next((p for p in self.chain(party) if self.kind[p] in kinds), None)

    def brand_owned(self, party: str | None) -> bool:
        """``brand`` or ``plant``, or owned (through any chain of owners) by one."""
        return self._first(party, _BRAND_KINDS) is not None

    def distributor_of(self, party: str | None) -> str | None:
        """The distributor a party is, or belongs to."""
        return self._first(party, _DISTRIBUTOR)

    def owns(self, owner: str, party: str | None) -> bool:
        """Whether ``party`` is ``owner`` or one of the places it owns."""
        return owner in self.chain(party)
