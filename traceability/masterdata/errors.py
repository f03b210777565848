"""The master-data import's problems, worded in the caller's language with a reason code beside the text.

An administrator uploads a whole network at once and fixes it from the list of problems, so each problem names the
row and field (its path) and says what is wrong in plain words; ``code`` stays in the API body for programs.

    ValidationFailed (422)   the document, refused whole; ``problems`` lists every one (path, reason, code)
"""

from __future__ import annotations

from typing import Any

from traceability.errors import Problem
from traceability.i18n import Catalogue, messages, wording

__all__ = ["MESSAGES", "problem", "word"]

MESSAGES: Catalogue = messages("traceability.masterdata.errors")


def word(code: str, lang: str = "en", **params: Any) -> str:
    """The message of ``code`` in ``lang`` (zh-CN or en; anything else is English)."""
    if "kind" in params:
        params["kind"] = wording(MESSAGES, f"kind.{params['kind']}", lang)
    return wording(MESSAGES, code, lang, **params)


def problem(path: str, code: str, lang: str, **params: Any) -> Problem:
    """One located problem, worded in ``lang``, its ``code`` kept for programs."""
    return Problem(path, word(code, lang, **params), code=code)
