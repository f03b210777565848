"""Campaigns: extra points derived from the sales, a member's points with them, the yearly top-10 and the return,
each against a hand count on a small network with fixed dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session

from crm.campaigns import campaign_return, create_campaign, end_campaign, list_campaigns, source_return
from crm.errors import CampaignExists, InvalidCampaign
from crm.points import balance, grant_points, top_members
from rebates.policy import CrmPolicy, Policy
from rebates.service import member_summary
from tests.crm.helpers import ADMIN, P1, Shop, seed
from tests.members.helpers import AUDITOR, GZ, NJ
from tests.settlement.scenario import P2
from traceability.errors import Forbidden

UTC_POLICY = Policy()
SHANGHAI = Policy(timezone="Asia/Shanghai")


def _network(session: Session, key_dir) -> Shop:
    """Three members, two campaigns, sales in and out of them (the module's hand count)."""
    seed(session)
    create_campaign(session=session, principal=ADMIN, policy=UTC_POLICY, code="SPRING", name="春季 双倍积分",
                    starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 10), gtins=[P1], territories=["CN-44"],
                    multiplier="2", bonus=1)  # fmt: skip  # 1 x (2 - 1) + 1 = 2 a unit of P1 in Guangdong
    create_campaign(session=session, principal=ADMIN, policy=UTC_POLICY, code="NJ", name="Nanjing bonus",
                    starts_on=date(2026, 4, 5), ends_on=date(2026, 4, 30), stores=["S-NJ-1"],
                    bonus=3)  # fmt: skip  # 3 a unit of anything at S-NJ-1
    shop = Shop(session, key_dir)
    shop.member("A", source="campaign:SPRING")
    shop.member("B", store="S-NJ-1")
    shop.member("C")
    shop.buy("A", date(2026, 4, 2), 2)  # SPRING: 2 x 2 = 4
    shop.buy("A", date(2026, 4, 3), 1, gtin=P2)  # not a campaign product
    shop.buy("A", date(2026, 4, 11), 1)  # after SPRING
    shop.buy("B", date(2026, 4, 2), 3, store="S-NJ-1")  # Nanjing is not in CN-44, and NJ has not started
    shop.buy("B", date(2026, 4, 6), 2, store="S-NJ-1", gtin=P2)  # NJ: 2 x 3 = 6
    shop.buy("C", date(2026, 4, 10), 1, hour="23:30:00Z")  # 10 April in UTC (SPRING: 2), 11 April in Shanghai
    return shop


def test_campaign_points_equal_a_hand_count(session: Session, settings) -> None:
    shop = _network(session, settings.key_dir)
    got = {n: balance(session=session, member_hash=shop.hashes[n], policy=UTC_POLICY).as_dict() for n in "ABC"}
    assert {n: (b["regular"], b["campaign"], b["points"]) for n, b in got.items()} == {
        "A": (4, 4, 8), "B": (5, 6, 11), "C": (1, 2, 3)}  # fmt: skip
    # the policy's time zone decides the day: in Shanghai C bought on 11 April, after SPRING
    assert balance(session=session, member_hash=shop.hashes["C"], policy=SHANGHAI).campaign == 0
    # a member's points at the till (rebates) include the extras
    assert member_summary(session=session, member_hash=shop.hashes["B"], policy=UTC_POLICY).points == 11
    # a late sale inside a campaign earns its extras too (nothing is stored per sale)
    shop.buy("A", date(2026, 4, 9), 1)
    assert balance(session=session, member_hash=shop.hashes["A"], policy=UTC_POLICY).points == 8 + 1 + 2


def test_a_fractional_multiplier_rounds_down_once_per_member(session: Session, settings) -> None:
    seed(session)
    create_campaign(session=session, principal=ADMIN, policy=UTC_POLICY, code="HALF", name="1.5x",
                    starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 30), multiplier=Decimal("1.5"))  # fmt: skip
    shop = Shop(session, settings.key_dir)
    shop.member("A")
    shop.buy("A", date(2026, 4, 2), 3)  # 3 x 0.5 = 1.5 -> 1
    assert balance(session=session, member_hash=shop.hashes["A"], policy=UTC_POLICY).campaign == 1
    shop.buy("A", date(2026, 4, 3), 1)  # 4 x 0.5 = 2
    assert balance(session=session, member_hash=shop.hashes["A"], policy=UTC_POLICY).campaign == 2
    per_unit_3 = Policy(points={"per_unit": 3})  # 4 units x 3 x 0.5 = 6
    assert balance(session=session, member_hash=shop.hashes["A"], policy=per_unit_3).as_dict() == {
        "points": 18, "regular": 12, "campaign": 6, "granted": 0, "redeemed": 0}  # fmt: skip


def test_the_return_per_campaign_and_per_source_equals_a_hand_count(session: Session, settings) -> None:
    shop = _network(session, settings.key_dir)
    grant_points(session=session, principal=GZ, member_hash=shop.hashes["C"], points=5, reason="亲子活动",
                 campaign_code="SPRING", now=datetime(2026, 4, 5, tzinfo=UTC))  # fmt: skip
    rows = {r["campaign"]: r for r in campaign_return(session=session, principal=ADMIN, policy=UTC_POLICY,
                                                      as_of=date(2026, 4, 30))}  # fmt: skip
    spring = rows["SPRING"]
    assert (spring["members_gained"], spring["gained_units"], spring["gained_value"]) == (1, 4, "903.50")
    assert (spring["campaign_units"], spring["campaign_value"]) == (3, "804.00")
    assert (spring["extra_points"], spring["granted_points"], spring["points_cost"]) == (6, 5, 11)
    nj = rows["NJ"]
    assert (nj["members_gained"], nj["campaign_units"], nj["campaign_value"], nj["points_cost"]) == (
        0, 2, "199.00", 6)  # fmt: skip
    # as of the day before C's sale, SPRING has only A's two units
    early = campaign_return(session=session, principal=ADMIN, policy=UTC_POLICY, as_of=date(2026, 4, 9),
                            code="SPRING")  # fmt: skip
    assert [(r["campaign_units"], r["extra_points"], r["granted_points"]) for r in early] == [(2, 4, 5)]
    sources = {r["source"]: r for r in source_return(session=session, principal=ADMIN, policy=UTC_POLICY,
                                                     as_of=date(2026, 4, 30))}  # fmt: skip
    assert set(sources) == {"campaign:SPRING", "pos"}
    pos = sources["pos"]  # B and C: 6 units, 3 x 268 + 2 x 99.50 + 268; points 6 + 6 + 2 + 5
    assert (pos["members"], pos["buyers"], pos["units"], pos["value"], pos["points_cost"]) == (
        2, 2, 6, "1271.00", 19)  # fmt: skip
    spring_source = sources["campaign:SPRING"]
    assert (spring_source["members"], spring_source["units"], spring_source["value"],
            spring_source["points_cost"]) == (1, 4, "903.50", 8)  # fmt: skip
    april_6_on = {r["source"]: r for r in source_return(session=session, principal=ADMIN, policy=UTC_POLICY,
                                                        as_of=date(2026, 4, 30), start=date(2026, 4, 6))}  # fmt: skip
    assert (april_6_on["pos"]["units"], april_6_on["pos"]["points_cost"]) == (3, 3 + 6 + 2)
    with pytest.raises(Forbidden):
        campaign_return(session=session, principal=GZ, policy=UTC_POLICY, as_of=date(2026, 4, 30))
    assert source_return(session=session, principal=AUDITOR, policy=UTC_POLICY, as_of=date(2026, 4, 30))


def test_top10_by_points_growth_equals_a_hand_count(session: Session, settings) -> None:
    shop = _network(session, settings.key_dir)
    grant_points(session=session, principal=ADMIN, member_hash=shop.hashes["C"], points=5, reason="活动",
                 now=datetime(2026, 6, 1, tzinfo=UTC))  # fmt: skip
    grant_points(session=session, principal=ADMIN, member_hash=shop.hashes["A"], points=50, reason="last year",
                 now=datetime(2025, 12, 31, 12, tzinfo=UTC))  # fmt: skip
    top = top_members(session=session, principal=ADMIN, year=2026, policy=UTC_POLICY)
    # B 5 + 6 = 11; C 1 + 2 + 5 = 8; A 4 + 4 = 8 (her 50 were granted in 2025); ties by member id
    assert [(t["member"], t["earned"]) for t in top] == [(shop.ids["B"], 11), (shop.ids["A"], 8), (shop.ids["C"], 8)]
    assert (top[2]["regular"], top[2]["campaign"], top[2]["granted"]) == (1, 2, 5)
    assert [t["earned"] for t in top_members(session=session, principal=ADMIN, year=2025, policy=UTC_POLICY)] == [50]
    # a store sees its own members' ranking only, and never another store's
    assert [t["member"] for t in top_members(session=session, principal=NJ, year=2026, policy=UTC_POLICY)] == [
        shop.ids["B"]]  # fmt: skip
    with pytest.raises(Forbidden):
        top_members(session=session, principal=GZ, year=2026, policy=UTC_POLICY, store_id="S-NJ-1")
    assert len(top_members(session=session, principal=ADMIN, year=2026, policy=UTC_POLICY, limit=2)) == 2


def test_only_the_brand_admin_runs_campaigns_and_every_field_is_checked(session: Session, settings) -> None:
    seed(session)
    kw = {"policy": UTC_POLICY, "code": "X1", "name": "x", "starts_on": date(2026, 4, 1),
          "ends_on": date(2026, 4, 30), "bonus": 1}  # fmt: skip
    for who in (GZ, AUDITOR):
        with pytest.raises(Forbidden) as refused:
            create_campaign(session=session, principal=who, **kw)  # type: ignore[arg-type]
        assert refused.value.detail["reason"] == "campaign_admin"
    for change, field in (({"code": "bad code"}, "code"), ({"name": "  "}, "name"),
                          ({"ends_on": date(2026, 3, 1)}, "ends_on"), ({"multiplier": "1.234"}, "multiplier"),
                          ({"multiplier": "abc"}, "multiplier"), ({"multiplier": "0.5"}, "multiplier"),
                          ({"bonus": 0}, "multiplier"), ({"bonus": -1}, "bonus"),
                          ({"gtins": ["06901234000199"]}, "gtins"), ({"gtins": ["123"]}, "gtins"),
                          ({"stores": ["D-GZ"]}, "stores"), ({"territories": ["XX"]}, "territories")):  # fmt: skip
        with pytest.raises(InvalidCampaign) as bad:
            create_campaign(session=session, principal=ADMIN, **(kw | change))  # type: ignore[arg-type]
        assert bad.value.detail["field"] == field, change
    made = create_campaign(session=session, principal=ADMIN, **kw)  # type: ignore[arg-type]
    assert (made["extra_per_unit"], made["gtins"], made["stores"]) == ("1.00", [], [])
    with pytest.raises(CampaignExists):
        create_campaign(session=session, principal=ADMIN, **kw)  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        end_campaign(session=session, principal=GZ, code="X1", policy=UTC_POLICY, on=date(2026, 4, 5))
    with pytest.raises(InvalidCampaign):
        end_campaign(session=session, principal=ADMIN, code="X1", policy=UTC_POLICY, on=date(2026, 5, 5))
    ended = end_campaign(session=session, principal=ADMIN, code="X1", policy=UTC_POLICY, on=date(2026, 4, 5))
    assert ended["ends_on"] == "2026-04-05"


def test_a_store_lists_the_campaigns_that_cover_it(session: Session, settings) -> None:
    _network(session, settings.key_dir)
    assert [c["code"] for c in list_campaigns(session=session, principal=GZ, policy=UTC_POLICY)] == ["SPRING"]
    assert [c["code"] for c in list_campaigns(session=session, principal=NJ, policy=UTC_POLICY)] == ["NJ"]
    assert {c["code"] for c in list_campaigns(session=session, principal=ADMIN, policy=UTC_POLICY)} == {"SPRING", "NJ"}


def test_the_monthly_prospect_target_has_both_names() -> None:
    assert CrmPolicy().prospect_target_per_month == 20
    assert CrmPolicy.model_validate({"prospect_target_per_month": 12}).prospect_target == 12
    assert Policy.model_validate({"crm": {"prospect_target": 7}}).crm.prospect_target_per_month == 7
