"""English and Traditional Chinese: the browser's language by default, a switcher in the
header, and a translation catalogue that is complete and compiled."""

from __future__ import annotations

from pathlib import Path

import polib  # type: ignore[import-untyped]
import pytest
from django.conf import settings

from headway.accounts.models import User
from tests.web.conftest import PASSWORD, Org

LOCALE = Path(settings.LOCALE_PATHS[0])
PO = LOCALE / "zh_Hant" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


@pytest.mark.django_db
def test_the_browsers_language_picks_traditional_chinese(org: Org) -> None:
    html = org.client(org.vic).get("/", HTTP_ACCEPT_LANGUAGE="zh-TW,zh;q=0.9").content.decode()
    assert '<html lang="zh-hant">' in html
    assert "目標與 KPI" in html
    assert "未連結目標的 KPI" in html
    assert "落後" in html  # Off track
    assert "達成率" in html
    assert "比上一期下降（變差）" in html
    assert "Goals and KPIs" not in html


@pytest.mark.django_db
def test_the_kpi_page_in_chinese_formats_dates_and_numbers_for_the_locale(org: Org) -> None:
    client = org.client(org.vic)
    html = client.get("/kpis/revenue/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "目標歷史" in html
    assert "說明這個數字" in html
    assert "2024年4月" in html  # a month in words
    assert "TWD 1,234,752" in html  # thousands by three, as written in Taiwan and Hong Kong
    assert "這是以 TWD 計的金額" in html
    assert "整個組織" in html


@pytest.mark.django_db
def test_the_language_switcher_sets_the_language_and_remembers_it(org: Org) -> None:
    client = org.client(org.mo)
    response = client.post("/language/", {"language": "zh-hant", "next": "/kpis/win_rate/"})
    assert response.status_code == 302
    assert response["Location"] == "/kpis/win_rate/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"
    assert "衡量內容" in client.get("/kpis/win_rate/").content.decode()
    org.mo.refresh_from_db()
    assert org.mo.language == "zh-hant"


@pytest.mark.django_db
def test_signing_in_brings_back_the_language_a_person_chose(org: Org) -> None:
    User.objects.filter(pk=org.mo.pk).update(language="zh-hant")
    client = org.client(None)
    response = client.post("/accounts/login/", {"username": "mo@example.com", "password": PASSWORD})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"
    assert "我的 KPI" in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_header_offers_both_languages(org: Org) -> None:
    html = org.client(None).get("/accounts/login/").content.decode()
    assert 'action="/language/"' in html
    assert 'value="en"' in html
    assert 'value="zh-hant"' in html
    assert "繁體中文" in html


def test_every_message_has_a_translation() -> None:
    catalogue = polib.pofile(str(PO))
    assert len(catalogue) > 300
    untranslated = [entry.msgid for entry in catalogue if not entry.translated()]
    assert untranslated == []
    assert [entry.msgid for entry in catalogue if "fuzzy" in entry.flags] == []
    for entry in catalogue:
        texts = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in texts:
            assert text.strip(), entry.msgid


def test_translations_keep_every_placeholder() -> None:
    import re

    placeholder = re.compile(r"%\((\w+)\)s")
    for entry in polib.pofile(str(PO)):
        wanted = set(placeholder.findall(entry.msgid))
        translations = [entry.msgstr] if not entry.msgid_plural else entry.msgstr_plural.values()
        for text in translations:
            assert set(placeholder.findall(text)) == wanted, entry.msgid


def test_the_compiled_catalogue_matches_the_po_file(tmp_path: Path) -> None:
    fresh = tmp_path / "django.mo"
    polib.pofile(str(PO), wrapwidth=0).save_as_mofile(str(fresh))
    assert MO.read_bytes() == fresh.read_bytes(), "run scripts/compile-messages.py"
