"""A free unit's refusals are worded in the caller's language when rendered (issue 17); the English ``message``
(the CLI, the logs) and the machine fields stay as they were."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session

from rebates.errors import NoFreeItem
from rebates.policy import Policy
from rebates.service import redeem_free_item
from tests.factories import seed_masterdata
from traceability.auth.service import Principal
from traceability.errors import Forbidden, NotFound
from traceability.models import Role

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_redeem_refusals_in_both_languages(session: Session) -> None:
    seed_masterdata(session)
    policy = Policy()
    with pytest.raises(Forbidden) as other:
        redeem_free_item(session=session, member_hash="m1", store_id="S-NJ-1", policy=policy,
                         principal=Principal(Role.store, "S-GZ-1"))  # fmt: skip
    assert other.value.message == "a store key redeems only at its own store 'S-GZ-1'"
    assert other.value.text("zh-CN") == "门店密钥只能在本门店 'S-GZ-1' 兑换"
    admin = Principal(Role.admin, "BRAND")
    with pytest.raises(NotFound) as unknown:
        redeem_free_item(session=session, member_hash="m1", store_id="NOPE", policy=policy, principal=admin)
    assert unknown.value.to_problem("en")["detail"] == "unknown store 'NOPE'"
    assert unknown.value.to_problem("zh-CN") | {"detail": ""} == unknown.value.to_problem("en") | {"detail": ""}
    with pytest.raises(NoFreeItem) as none_due:
        redeem_free_item(session=session, member_hash="m1", store_id="S-GZ-1", policy=policy, principal=admin)
    every = policy.points.free_after
    assert none_due.value.message.endswith(f"one is due every {every}")
    chinese = none_due.value.text("zh-CN")
    assert HAN.search(chinese) and f"每满 {every} 件" in chinese and "next_free_after" in none_due.value.detail
