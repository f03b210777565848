"""Errors of the codes domain, rendered by the one handler like every :class:`TraceabilityError`.

```
TraceabilityError
├── NotFound (404)
│   └── CodeNotFound       no such code was ever issued
├── InvalidInput (422)
│   ├── MalformedCode      a scanned or supplied code does not parse (names the field)
│   ├── ForgedCode         it parses but its signature or tag does not verify
│   ├── UnknownKey         it names a key id we do not know
│   ├── UnverifiableCode   a compact-mode code seen where its HMAC secret is not: check it online
│   └── InvalidKeyring     a keyring document is not valid
├── Conflict (409)
│   ├── KeyRevoked         it is signed by a key that has been revoked
│   ├── KeyStateError      a key operation the keys' current states forbid (two active keys, no active key)
│   └── AggregationError   a packing or unpacking the codes' current states forbid
└── KeyFileError (500)     a private key or HMAC secret file is missing, unreadable or exists already
```
"""

from __future__ import annotations

from traceability.errors import Conflict, InvalidInput, NotFound, TraceabilityError

__all__ = [
    "AggregationError",
    "CodeNotFound",
    "ForgedCode",
    "InvalidKeyring",
    "KeyFileError",
    "KeyRevoked",
    "KeyStateError",
    "MalformedCode",
    "UnknownKey",
    "UnverifiableCode",
]


class MalformedCode(InvalidInput):
    """Input is not a well-formed code; ``detail["field"]`` names the offending part when known."""

    code = "malformed_code"


class ForgedCode(InvalidInput):
    """A well-formed code whose signature (or compact-mode tag) does not verify."""

    code = "forged_code"


class UnknownKey(InvalidInput):
    """A code (or request) names a key id that is not in the keyring."""

    code = "unknown_key"


class UnverifiableCode(InvalidInput):
    """A compact-mode (HMAC) code cannot be verified here: only the online service holds the secret."""

    code = "hmac_needs_online_check"


class InvalidKeyring(InvalidInput):
    """A keyring JSON document (or a key added to it) is not valid."""

    code = "invalid_keyring"


class KeyRevoked(Conflict):
    """The key that signed a code has been revoked; the code must not be trusted."""

    code = "key_revoked"


class KeyStateError(Conflict):
    """A key operation that the current key states forbid, e.g. a second active key or signing with none."""

    code = "key_state_conflict"


class AggregationError(Conflict):
    """Packing or unpacking that the codes' states forbid (already packed, wrong level, a cycle)."""

    code = "aggregation_conflict"


class CodeNotFound(NotFound):
    """The code parses but was never issued by us (or the reference names no code)."""

    code = "code_not_found"


class KeyFileError(TraceabilityError):
    """Key material on disk is missing, unreadable, wrongly protected or would be overwritten.

    The message names the file, never its content.
    """

    status_code = 500
    code = "key_file_error"
