"""The brand's policy file as a request dependency, one for every router that applies it.

The members, POS and CRM doors and their pages all read the file the settings name; it is declared once here so
that a change in how the policy is found (a cache, a reload on change) lands in one place.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from rebates.policy import Policy, load_policy
from traceability.api import SettingsDep

__all__ = ["PolicyDep", "current_policy"]


async def current_policy(settings: SettingsDep) -> Policy:
    """The policy in force: the file the settings name (the packaged default when none is set). On the event loop:
    the file is parsed once per content (``load_policy``), so this is a small read, not a hop to a thread."""
    return load_policy(settings.policy_file)


PolicyDep = Annotated[Policy, Depends(current_policy)]
