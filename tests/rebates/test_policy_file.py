"""The policy file is parsed once per content: a change takes effect at the next request, a bad edit is refused
(and not remembered), and no caller can change the copy the others share."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rebates.errors import PolicyInvalid
from rebates.policy import load_policy


def test_an_edit_is_seen_at_once_and_a_bad_one_is_refused_each_time(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('timezone = "Asia/Shanghai"\nlock_grace_days = 3\n', encoding="utf-8")
    first = load_policy(path)
    assert load_policy(path) is first  # the same version of the file: read once
    path.write_text('timezone = "Asia/Shanghai"\nlock_grace_days = 5\n', encoding="utf-8")
    assert load_policy(path).lock_grace_days == 5
    path.write_text('timezone = "Asia/Shanghai"\nlock_grace_days = "soon"\n', encoding="utf-8")
    for _ in range(2):  # a refusal is not kept as if it were the policy, nor kept at all
        with pytest.raises(PolicyInvalid):
            load_policy(path)
    path.write_text('timezone = "Asia/Shanghai"\nlock_grace_days = 7\n', encoding="utf-8")
    assert load_policy(path).lock_grace_days == 7
    path.unlink()
    with pytest.raises(PolicyInvalid):
        load_policy(path)  # a file taken away is an error, not the last version read


def test_the_shared_policy_cannot_be_changed(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("lock_grace_days = 4\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        load_policy(path).lock_grace_days = 9  # type: ignore[misc]
    with pytest.raises(ValidationError):
        load_policy(None).timezone = "Asia/Tokyo"  # type: ignore[misc]
    assert load_policy(path).lock_grace_days == 4
