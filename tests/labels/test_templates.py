"""Templates: every grid fits its page, and each says what it can print."""

from __future__ import annotations

import pytest

from labels.errors import TemplateMismatch, UnknownTemplate
from labels.templates import TEMPLATES, get_template
from traceability.models import CodeLevel, PrintFormat


@pytest.mark.parametrize("template", TEMPLATES.values(), ids=list(TEMPLATES))
def test_labels_stay_on_the_page_and_clear_of_the_unprintable_edge(template) -> None:
    template.validate()
    if template.kind == "sheet":
        width, height = template.page_mm
        for slot in (0, template.per_page - 1):
            left, top = template.slot_mm(slot)
            content = (left + template.padding_mm, top + template.padding_mm,
                       left + template.label_mm[0] - template.padding_mm,
                       top + template.label_mm[1] - template.padding_mm)  # fmt: skip
            assert min(content[0], content[1], width - content[2], height - content[3]) >= 4.0 - 1e-6


def test_a_template_says_what_it_prints() -> None:
    get_template("roll-50x30").check(level=CodeLevel.unit, fmt=PrintFormat.zpl)
    with pytest.raises(TemplateMismatch, match="roll template for ZPL"):
        get_template("a4-3x8").check(level=CodeLevel.unit, fmt=PrintFormat.zpl)
    with pytest.raises(TemplateMismatch, match="prints unit labels, not pallet"):
        get_template("a4-3x8").check(level=CodeLevel.pallet)
    with pytest.raises(UnknownTemplate, match="a4-3x8"):
        get_template("a4-9x9")
