from pathlib import Path

import polib

from tests.conftest import REPO

LOCALE = REPO / "core" / "locale"


def test_compiled_translations_match_their_sources():
    """The committed .mo files (so `make run` needs no gettext) are compiled from the current .po files."""
    po_files = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))
    assert po_files
    for po_path in po_files:
        po = polib.pofile(str(po_path))
        mo = polib.mofile(str(Path(po_path).with_suffix(".mo")))
        compiled = {entry.msgid: entry.msgstr for entry in mo if entry.msgid}
        expected = {e.msgid: e.msgstr for e in po.translated_entries() if not e.obsolete and not e.msgid_plural}
        missing = {k: v for k, v in expected.items() if compiled.get(k) != v}
        assert not missing, f"{po_path}: run `make messages`; stale: {list(missing)[:5]}"


def test_no_untranslated_spanish_strings():
    po = polib.pofile(str(LOCALE / "es" / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in po.untranslated_entries() if not e.obsolete]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated and not fuzzy, (untranslated + fuzzy)[:10]
