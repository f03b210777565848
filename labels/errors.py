"""Errors of the labels domain, rendered by the one handler like every :class:`TraceabilityError`.

```
TraceabilityError
├── NotFound (404)
│   ├── JobNotFound          no such print job, or it belongs to another plant
│   ├── UnknownTemplate      no label template of that name
│   └── CodeNotInJob         the code exists but was not drawn for this job
├── InvalidInput (422)
│   ├── TemplateMismatch     the template cannot print this level, symbology or output format
│   └── LabelDoesNotFit      the payload needs a symbol too large for the template's label
└── Conflict (409)
    ├── JobStateError        a job step the job's status forbids (printing twice, reprinting before printing)
    └── LabelStateError      a reprint or void the code's status forbids (voided, already commissioned)
```
"""

from __future__ import annotations

from traceability.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "CodeNotInJob",
    "JobNotFound",
    "JobStateError",
    "LabelDoesNotFit",
    "LabelStateError",
    "TemplateMismatch",
    "UnknownTemplate",
]


class JobNotFound(NotFound):
    """No print job with that id that the caller may see (another plant's job looks exactly like none)."""

    code = "print_job_not_found"


class UnknownTemplate(NotFound):
    """The template id names no template."""

    code = "unknown_label_template"


class CodeNotInJob(NotFound):
    """The code was issued, but for another job (or by no job): a job reprints and voids only its own codes."""

    code = "code_not_in_job"


class TemplateMismatch(InvalidInput):
    """The template cannot print what was asked: a unit template for pallets, ZPL from a sheet template."""

    code = "label_template_mismatch"


class LabelDoesNotFit(InvalidInput):
    """The symbol for this payload would be too large (modules too small to print) for the template's label."""

    code = "label_does_not_fit"


class JobStateError(Conflict):
    """A job step its status forbids: a job is printed once; a damaged label is reprinted, not the job."""

    code = "print_job_state_conflict"


class LabelStateError(Conflict):
    """A reprint or void the code's status forbids."""

    code = "label_state_conflict"
