"""The master-data import's problems, worded in the caller's language with a reason code beside the text.

An administrator uploads a whole network at once and fixes it from the list of problems, so each problem names the
row and field (its path) and says what is wrong in plain words; ``code`` stays in the API body for programs.

    ValidationFailed (422)   the document, refused whole; ``problems`` lists every one (path, reason, code)
"""

from __future__ import annotations

from typing import Any

from traceability.errors import Problem
from traceability.i18n import Catalogue, wording

__all__ = ["MESSAGES", "problem", "word"]

MESSAGES: Catalogue = {
    "en": {
        "document_refused": "The master-data document has {count} problem(s); nothing was written.",
        "territory_duplicate": "Territory {id} appears more than once.",
        "territory_unknown_parent": "Unknown parent territory {parent}.",
        "territory_cycle": "Territory {id} is part of a cycle through {through}.",
        "party_duplicate": "Party {id} appears more than once.",
        "gln_invalid": "{gln} is not a 13-digit GLN with a valid check digit.",
        "gln_repeated": "GLN {gln} is used by more than one party in this document.",
        "gln_taken": "GLN {gln} already belongs to party {owner}.",
        "territory_unknown": "Unknown territory {id}.",
        "authorised_not_distributor": "Only distributors carry authorised territories.",
        "party_unknown": "Unknown party {id}.",
        "supplier_not_distributor": "Party {id} is a {kind}, not a distributor.",
        "supplied_not_store": "Only stores are supplied by distributors.",
        "owner_self": "A party cannot own itself.",
        "lat_lon_pair": "lat and lon come together or not at all.",
        "gtin_invalid": "{gtin} is not a 14-digit GTIN with a valid check digit.",
        "product_duplicate": "Product {gtin} appears more than once.",
        "case_pair": "case_gtin and units_per_case come together or not at all.",
        "kind.brand": "brand", "kind.plant": "plant", "kind.warehouse": "warehouse", "kind.distributor": "distributor",
        "kind.store": "store", "kind.auditor": "auditor",
    },
    "zh-CN": {
        "document_refused": "主数据文件有 {count} 处问题，未写入任何数据。",
        "territory_duplicate": "区域 {id} 出现了不止一次。",
        "territory_unknown_parent": "上级区域 {parent} 不存在。",
        "territory_cycle": "区域 {id} 的上级关系形成了循环（经过 {through}）。",
        "party_duplicate": "参与方 {id} 出现了不止一次。",
        "gln_invalid": "{gln} 不是校验位正确的 13 位 GLN。",
        "gln_repeated": "本文件中有多个参与方使用 GLN {gln}。",
        "gln_taken": "GLN {gln} 已属于参与方 {owner}。",
        "territory_unknown": "区域 {id} 不存在。",
        "authorised_not_distributor": "只有经销商才有授权区域。",
        "party_unknown": "参与方 {id} 不存在。",
        "supplier_not_distributor": "参与方 {id} 是{kind}，不是经销商。",
        "supplied_not_store": "只有门店由经销商供货。",
        "owner_self": "参与方不能隶属于自己。",
        "lat_lon_pair": "纬度（lat）和经度（lon）须同时填写或同时不填。",
        "gtin_invalid": "{gtin} 不是校验位正确的 14 位 GTIN。",
        "product_duplicate": "产品 {gtin} 出现了不止一次。",
        "case_pair": "箱码 GTIN（case_gtin）和每箱数量（units_per_case）须同时填写或同时不填。",
        "kind.brand": "品牌方", "kind.plant": "工厂", "kind.warehouse": "仓库", "kind.distributor": "经销商",
        "kind.store": "门店", "kind.auditor": "稽查方",
    },
}

def word(code: str, lang: str = "en", **params: Any) -> str:
    """The message of ``code`` in ``lang`` (zh-CN or en; anything else is English)."""
    if "kind" in params:
        params["kind"] = wording(MESSAGES, f"kind.{params['kind']}", lang)
    return wording(MESSAGES, code, lang, **params)


def problem(path: str, code: str, lang: str, **params: Any) -> Problem:
    """One located problem, worded in ``lang``, its ``code`` kept for programs."""
    return Problem(path, word(code, lang, **params), code=code)
