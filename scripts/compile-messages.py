#!/usr/bin/env python3
"""Compiles Headway's translations (.po) to the .mo files Django reads, with polib.

    uv run python scripts/compile-messages.py          # write every django.mo
    uv run python scripts/compile-messages.py --check  # exit 1 if a .mo is out of date

No GNU gettext is needed. To collect new strings into the .po after changing templates
or code (this step does need gettext's xgettext):

    cd src/headway && DJANGO_SETTINGS_MODULE=headway.site.settings \\
      uv run django-admin makemessages -l zh_Hant --no-location --no-obsolete \\
      --ignore='api/*' --ignore='cli/*' --ignore='engine/*' --ignore='lib/*'

then translate every empty msgstr (and clear any "fuzzy" flag) before compiling.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parents[1] / "src" / "headway" / "locale"


def compiled(po_path: Path) -> bytes:
    """The .mo bytes of a .po file (fuzzy and obsolete entries are left out, as msgfmt does)."""
    catalog = polib.pofile(str(po_path), wrapwidth=0)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "django.mo"
        catalog.save_as_mofile(str(target))
        return target.read_bytes()


def po_files() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for po_path in po_files():
        mo_path = po_path.with_suffix(".mo")
        data = compiled(po_path)
        if mo_path.exists() and mo_path.read_bytes() == data:
            continue
        if check:
            stale.append(mo_path)
            continue
        mo_path.write_bytes(data)
        print(f"wrote {mo_path.relative_to(LOCALE_DIR.parents[2])}")
    for mo_path in stale:
        print(f"out of date: {mo_path} (run scripts/compile-messages.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
