"""Errors of the ledger (see the tree in :mod:`traceability.errors`).

    TraceabilityError
    └── InvalidInput (422)
        └── CheckpointInvalid   a checkpoint file that is missing, malformed, or not signed by our checkpoint key
"""

from __future__ import annotations

from traceability.errors import InvalidInput

__all__ = ["CheckpointInvalid"]


class CheckpointInvalid(InvalidInput):
    code = "checkpoint_invalid"
