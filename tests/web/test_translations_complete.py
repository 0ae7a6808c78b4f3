"""Every string the templates translate has a Traditional Chinese translation."""

from __future__ import annotations

import re
from pathlib import Path

import polib

SOURCE = Path(__file__).resolve().parents[2] / "src" / "headway"
CATALOG = SOURCE / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po"
TRANSLATE_TAG = re.compile(r"""\{%\s*translate\s+(["'])(.*?)\1""")


def test_every_translate_tag_in_the_templates_has_a_translation() -> None:
    translated = {entry.msgid: entry.msgstr for entry in polib.pofile(str(CATALOG))}
    missing = []
    for template in sorted(SOURCE.glob("*/templates/**/*.html")):
        for match in TRANSLATE_TAG.finditer(template.read_text(encoding="utf-8")):
            text = match.group(2)
            if not translated.get(text):
                missing.append(f"{template.relative_to(SOURCE)}: {text}")
    assert missing == []
