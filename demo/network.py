"""The demo's master data: a territory tree of provinces and cities, 2 plants, a warehouse, 20 distributors and
500 member stores with Chinese names, built deterministically from a seed.

Territory ids are the national administrative division codes (GB/T 2260: ``440000`` Guangdong, ``440100``
Guangzhou), under ``CN``. Each distributor is authorised for its city (two for their whole province), and supplies
the 25 stores of its city; stores sit around the city centre so that clone detection by travel speed has
coordinates to work with.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from traceability.gs1 import with_check_digit

__all__ = ["CITIES", "COMPANY_PREFIX", "PRODUCTS", "City", "Network", "build_network"]

COMPANY_PREFIX = "6901234"


@dataclass(frozen=True, slots=True)
class City:
    code: str
    """Administrative division code of the city (or municipal district)."""
    name: str
    province: str
    province_name: str
    short: str
    """Latin abbreviation for readable party ids (``D-GZ``, ``S-GZ-001``)."""
    lat: float
    lon: float


CITIES: tuple[City, ...] = (
    City("440100", "广州市", "440000", "广东省", "GZ", 23.13, 113.26),
    City("440300", "深圳市", "440000", "广东省", "SZ", 22.54, 114.06),
    City("440600", "佛山市", "440000", "广东省", "FS", 23.02, 113.12),
    City("441900", "东莞市", "440000", "广东省", "DG", 23.02, 113.75),
    City("320100", "南京市", "320000", "江苏省", "NJ", 32.06, 118.80),
    City("320500", "苏州市", "320000", "江苏省", "SU", 31.30, 120.62),
    City("320200", "无锡市", "320000", "江苏省", "WX", 31.49, 120.31),
    City("330100", "杭州市", "330000", "浙江省", "HZ", 30.27, 120.16),
    City("330200", "宁波市", "330000", "浙江省", "NB", 29.87, 121.54),
    City("330300", "温州市", "330000", "浙江省", "WZ", 28.00, 120.67),
    City("310115", "浦东新区", "310000", "上海市", "PD", 31.22, 121.54),
    City("310104", "徐汇区", "310000", "上海市", "XH", 31.19, 121.44),
    City("110105", "朝阳区", "110000", "北京市", "CY", 39.92, 116.44),
    City("110108", "海淀区", "110000", "北京市", "HD", 39.96, 116.30),
    City("510100", "成都市", "510000", "四川省", "CD", 30.57, 104.07),
    City("420100", "武汉市", "420000", "湖北省", "WH", 30.59, 114.31),
    City("430100", "长沙市", "430000", "湖南省", "CS", 28.23, 112.94),
    City("370100", "济南市", "370000", "山东省", "JN", 36.65, 117.12),
    City("370200", "青岛市", "370000", "山东省", "QD", 36.07, 120.38),
    City("500100", "重庆主城区", "500000", "重庆市", "CQ", 29.56, 106.55),
)

# Distributors authorised for their whole province rather than their city.
PROVINCE_WIDE = frozenset({"CD", "CQ"})

PRODUCTS: tuple[dict[str, Any], ...] = (
    {"item": "00010", "name": "婴儿配方奶粉 1段 800 g", "price": Decimal("268.00")},
    {"item": "00011", "name": "较大婴儿配方奶粉 2段 800 g", "price": Decimal("258.00")},
    {"item": "00012", "name": "幼儿配方奶粉 3段 800 g", "price": Decimal("238.00")},
)

_TRADE = ("恒信", "康达", "鑫源", "华润", "嘉禾", "瑞丰", "安泰", "宏远", "金桥", "永盛", "德润", "汇通", "博瑞",
          "盛世", "佳美", "同创", "天成", "新港", "福瑞", "万家")  # fmt: skip
_CHAINS = ("贝贝佳", "爱婴坊", "宝贝屋", "孕婴世界", "乐友", "小天使", "母婴优选", "童乐汇", "好孩子", "喜贝")
_STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "胜利路", "长江路", "滨江路",
            "南京路", "北京路", "青年路", "朝阳路", "花园路", "东风路", "学府路", "湖滨路", "光明路", "友谊路",
            "幸福路", "育才路", "红旗路", "振兴路", "广场路")  # fmt: skip


@dataclass
class Network:
    """The master-data document and the ids the simulation needs."""

    document: dict[str, Any]
    distributors: dict[str, City]
    """Distributor id → its city."""
    stores: dict[str, list[str]]
    """Distributor id → the stores it supplies."""
    gtins: list[str]


def _gln(n: int) -> str:
    return with_check_digit(f"{COMPANY_PREFIX}{n:05d}")


def _gtin(indicator: str, item: str) -> str:
    return with_check_digit(f"{indicator}{COMPANY_PREFIX}{item}")


def build_network(*, seed: int = 7, stores_per_distributor: int = 25) -> Network:
    """The whole master-data document, the same for the same seed."""
    rng = random.Random(seed)
    territories: list[dict[str, Any]] = [{"id": "CN", "name": "中国"}]
    seen_provinces: set[str] = set()
    for c in CITIES:
        if c.province not in seen_provinces:
            seen_provinces.add(c.province)
            territories.append({"id": c.province, "name": c.province_name, "parent": "CN"})
        territories.append({"id": c.code, "name": c.name, "parent": c.province})
    gln = iter(range(1, 99999))
    parties: list[dict[str, Any]] = [
        {"id": "BRAND", "kind": "brand", "name": "安心乳业集团（品牌总部）", "gln": _gln(next(gln)), "territory": "CN"},
        {"id": "PLANT-GZ", "kind": "plant", "name": "安心乳业广州工厂", "gln": _gln(next(gln)), "territory": "440100",
         "lat": 23.35, "lon": 113.45},
        {"id": "PLANT-SU", "kind": "plant", "name": "安心乳业苏州工厂", "gln": _gln(next(gln)), "territory": "320500",
         "lat": 31.33, "lon": 120.75},
        {"id": "WH-SH", "kind": "warehouse", "name": "上海中央仓", "gln": _gln(next(gln)), "territory": "310115",
         "owner": "BRAND", "lat": 31.15, "lon": 121.80},
        {"id": "AUD", "kind": "auditor", "name": "品牌稽查部", "gln": _gln(next(gln)), "territory": "CN"},
    ]  # fmt: skip
    distributors: dict[str, City] = {}
    stores: dict[str, list[str]] = {}
    for i, c in enumerate(CITIES):
        did = f"D-{c.short}"
        distributors[did] = c
        authorised = [c.province] if c.short in PROVINCE_WIDE else [c.code]
        parties.append({"id": did, "kind": "distributor", "name": f"{c.name.removesuffix('市')}{_TRADE[i]}商贸有限公司",
                        "gln": _gln(next(gln)), "territory": c.code, "authorized_territories": authorised,
                        "lat": round(c.lat + 0.03, 4), "lon": round(c.lon - 0.03, 4)})  # fmt: skip
        stores[did] = []
        for n in range(1, stores_per_distributor + 1):
            sid = f"S-{c.short}-{n:03d}"
            stores[did].append(sid)
            chain = _CHAINS[rng.randrange(len(_CHAINS))]
            street = _STREETS[(n - 1) % len(_STREETS)]
            parties.append({"id": sid, "kind": "store", "name": f"{chain}母婴（{c.name.removesuffix('市')}{street}店）",
                            "gln": _gln(next(gln)), "territory": c.code, "supplied_by": [did],
                            "member_store_no": f"M{c.code}{n:03d}",
                            "lat": round(c.lat + rng.uniform(-0.12, 0.12), 5),
                            "lon": round(c.lon + rng.uniform(-0.12, 0.12), 5)})  # fmt: skip
    products = [
        {"gtin": _gtin("0", p["item"]), "name": p["name"], "unit_price": str(p["price"]), "currency": "CNY",
         "case_gtin": _gtin("1", p["item"]), "units_per_case": 6}
        for p in PRODUCTS
    ]  # fmt: skip
    document = {"territories": territories, "parties": parties, "products": products}
    return Network(document=document, distributors=distributors, stores=stores, gtins=[p["gtin"] for p in products])
