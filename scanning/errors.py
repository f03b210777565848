"""Errors of the scanning domain, rendered by the one handler like every :class:`TraceabilityError`.

TraceabilityError
├── InvalidInput (422)
│   ├── CorruptImage         image bytes are empty, truncated or in no format we can decode (names why)
│   ├── UnsupportedImage     an image we will not process: odd array shape or dtype
│   └── ValidationFailed (422)
│       ├── InvalidDocument  an EPCIS document (or some of its events) is not valid EPCIS 2.0
│       └── CaptureConflict  (409) an eventID already stored with different content
├── PayloadTooLarge (413)
│   └── ImageTooLarge        more pixels than ``max_image_pixels``, read from the header before decoding
├── Forbidden (403)
│   ├── OutboundRefused      the brand's policy refuses a shipment to this destination (channel, territory)
│   └── NotHolder            packing units another party holds (``detail["units"]`` names each and its holder)
└── Conflict (409)
    ├── IdempotencyConflict  an Idempotency-Key reused for a different request body
    ├── ShipmentError        a shipment session step its state does not allow
    └── ConfirmationRequired closing a shipment that has warnings, without confirming them
"""

from __future__ import annotations

from traceability.errors import Conflict, Forbidden, InvalidInput, PayloadTooLarge, ValidationFailed

__all__ = [
    "CaptureConflict",
    "ConfirmationRequired",
    "CorruptImage",
    "IdempotencyConflict",
    "ImageTooLarge",
    "InvalidDocument",
    "NotHolder",
    "OutboundRefused",
    "ShipmentError",
    "UnsupportedImage",
]


class CorruptImage(InvalidInput):
    """Image data that cannot be decoded; ``detail["reason"]`` is a short machine-readable cause."""

    code = "corrupt_image"


class UnsupportedImage(InvalidInput):
    """A well-formed image (or array) outside what the decoder accepts, e.g. a 5-channel array."""

    code = "unsupported_image"


class ImageTooLarge(PayloadTooLarge):
    """An image with more pixels than accepted, refused from its header so it is never decoded (no memory spent)."""

    code = "image_too_large"


class InvalidDocument(ValidationFailed):
    """An EPCIS document (or some of its events) is not valid EPCIS 2.0; ``problems`` names each with its path."""

    code = "invalid_epcis_document"


class CaptureConflict(ValidationFailed):
    """An eventID is already stored with different content (EPCIS capture answers 409)."""

    status_code = 409
    code = "event_id_conflict"


class IdempotencyConflict(Conflict):
    """An Idempotency-Key already used for a different request body."""

    code = "idempotency_key_reused"


class ShipmentError(Conflict):
    """A shipment session operation that its state does not allow (closing twice, scanning into a closed one)."""

    code = "shipment_state"


class OutboundRefused(Forbidden):
    """The brand's policy refuses what this shipment would break; ``detail["warnings"]`` lists each check, worded."""

    code = "outbound_refused"


class NotHolder(Forbidden):
    """Units another party holds, which this party may not pack (a packing is all or nothing)."""

    code = "not_holder"


class ConfirmationRequired(Conflict):
    """A shipment with warnings is closed only when the caller confirms them (``confirm``); ``detail["warnings"]``
    lists them, worded in the request's language."""

    code = "confirmation_required"
