"""The German, French and Spanish catalogues are complete and compiled from their sources."""

import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parent.parent / "locale"
ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def entries(path: Path) -> list[dict]:
    """The catalogue's entries as {keyword: text}, e.g. msgid, msgid_plural, msgstr[0]."""
    found = []
    for block in path.read_text().split("\n\n"):
        entry, key = {"flags": ""}, None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith('"') and key:
                entry[key] += line[1:-1]
            elif match := re.match(
                r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line
            ):
                key = match.group(1)
                entry[key] = match.group(2)
        for key in entry:
            if key != "flags":
                entry[key] = re.sub(r"\\(.)", lambda m: ESCAPES[m.group(1)], entry[key])
        if entry.get("msgid"):
            found.append(entry)
    return found


@pytest.mark.parametrize("language", ["de", "fr", "es"])
def test_every_string_is_translated(language):
    for entry in entries(LOCALE / language / "LC_MESSAGES" / "django.po"):
        assert "fuzzy" not in entry["flags"], f"{language}: {entry['msgid']!r} is fuzzy"
        translations = [v for k, v in entry.items() if k.startswith("msgstr")]
        assert translations and all(translations), f"{language}: {entry['msgid']!r} untranslated"


@pytest.mark.parametrize("language", ["de", "fr", "es"])
def test_the_compiled_catalogue_matches_its_source(language):
    folder = LOCALE / language / "LC_MESSAGES"
    compiled = gettext.GNUTranslations((folder / "django.mo").open("rb"))
    for entry in entries(folder / "django.po"):
        context = entry.get("msgctxt")
        if "msgid_plural" in entry:
            plural = (entry["msgid"], entry["msgid_plural"], 1)
            got = compiled.npgettext(context, *plural) if context else compiled.ngettext(*plural)
            expected = entry["msgstr[0]"]
        else:
            msgid = entry["msgid"]
            got = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
            expected = entry["msgstr"]
        assert got == expected, f"{language}: {entry['msgid']!r} differs; run compilemessages"
