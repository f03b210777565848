"""Errors of the ledger (see the tree in :mod:`traceability.errors`).

    TraceabilityError
    ├── InvalidInput (422)
    │   └── CheckpointInvalid   a checkpoint file that is missing, malformed, or not signed by our checkpoint key
    └── Forbidden (403)
        └── NotEntitled         events the caller may not assert (another party's history, a brand shipment, a
                                retraction of what it did not capture or of a locked period); each with its index
"""

from __future__ import annotations

from traceability.errors import Forbidden, InvalidInput, Problem

__all__ = ["CheckpointInvalid", "NotEntitled"]


class CheckpointInvalid(InvalidInput):
    code = "checkpoint_invalid"


class NotEntitled(Forbidden):
    code = "not_entitled"

    def __init__(self, message: str, problems: list[Problem], reasons: list[dict[str, object]]) -> None:
        super().__init__(message, problems=[p.as_dict() for p in problems], events=reasons)
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join([self.message] + [f"  {p.path}: {p.reason}" for p in self.problems])
