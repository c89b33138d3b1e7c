"""English, German, French and Spanish: from the URL, then Accept-Language, then the brand."""

import re

import pytest

from tests.helpers import text_of
from tracking.status import STAGE_LABELS, STATUS_LABELS

pytestmark = pytest.mark.django_db


def lang_of(response) -> str:
    return re.search(r'<html lang="([^"]+)">', response.content.decode()).group(1)


class TestChoosingTheLanguage:
    def test_lang_in_the_url_wins(self, client, page_url):
        response = client.get(f"{page_url}?lang=de", headers={"Accept-Language": "fr"})
        assert lang_of(response) == "de"
        text = text_of(response)
        assert "Sendungsverlauf" in text
        assert "In Zustellung" in text
        assert "1 von 2 Paketen zugestellt" in text
        assert "Voraussichtliche Zustellung" in text
        assert "Mittwoch, 11. März" in text
        assert "9. März 2026, 14:05 GMT" in text
        assert response["Content-Language"] == "de"

    def test_then_accept_language(self, client, page_url):
        response = client.get(page_url, headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
        assert lang_of(response) == "fr"
        text = text_of(response)
        assert "Historique du suivi" in text
        assert "En cours de livraison" in text
        assert "Colis livrés : 1 sur 2" in text
        assert "mercredi 11 mars" in text
        assert "9 mars 2026, 14:05 GMT" in text

    def test_spanish(self, client, page_url):
        text = text_of(client.get(f"{page_url}?lang=es"))
        assert "Historial de seguimiento" in text
        assert "1 de 2 paquetes entregados" in text
        assert "miércoles 11 de marzo" in text
        assert "9 mar 2026, 14:05 GMT" in text

    def test_without_accept_language_the_brand_default(self, client, shipment, page_url):
        shipment.brand.default_language = "de"
        shipment.brand.save()
        response = client.get(page_url)
        assert lang_of(response) == "de"
        assert "Sendungsverlauf" in text_of(response)
        # A browser that says what it wants gets it, even if that is not the brand's language.
        assert lang_of(client.get(page_url, headers={"Accept-Language": "en"})) == "en"

    def test_the_switcher_is_a_list_of_links_with_lang_and_hreflang(self, client, page_url):
        html = client.get(f"{page_url}?lang=fr").content.decode()
        for code, name in (
            ("en", "English"),
            ("de", "Deutsch"),
            ("fr", "Français"),
            ("es", "Español"),
        ):
            assert f'href="{page_url}?lang={code}" lang="{code}" hreflang="{code}"' in html, code
            assert name in html
        assert re.search(r'hreflang="fr" aria-current="true"', html)

    def test_links_keep_a_language_from_the_url(self, client, page_url):
        html = client.get(f"{page_url}?lang=es").content.decode()
        assert f'action="{page_url}verify/?lang=es"' in html
        assert 'href="/?lang=es"' in html

    def test_the_lookup_page_and_errors_are_translated(self, client, db):
        response = client.get("/?lang=de")
        assert lang_of(response) == "de"
        assert "Ihr Paket verfolgen" in text_of(response)
        assert 'action="/track/?lang=de"' in response.content.decode()
        response = client.get("/track/?reference=nope&lang=fr")
        assert "Aucun colis ne correspond" in text_of(response)
        response = client.get("/no/such/page/", headers={"Accept-Language": "es"})
        assert "No encontramos esa página" in text_of(response)


class TestCatalogues:
    @pytest.mark.parametrize("language", ["de", "fr", "es"])
    def test_every_status_and_stage_label_is_translated(self, language):
        from django.utils import translation

        for label in [*STATUS_LABELS.values(), *STAGE_LABELS.values()]:
            with translation.override("en"):
                english = str(label)
            with translation.override(language):
                assert str(label) != english, english

    @pytest.mark.parametrize("language", ["de", "fr", "es"])
    def test_the_committed_catalogue_is_complete_and_compiled(self, language):
        import ast
        import gettext
        from pathlib import Path

        from django.conf import settings

        folder = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES"
        po = (folder / "django.po").read_text(encoding="utf-8")
        assert "#, fuzzy" not in po
        with (folder / "django.mo").open("rb") as mo:
            compiled = gettext.GNUTranslations(mo)
        entries = 0
        for block in po.split("\n\n")[1:]:
            fields, key = {}, None
            for line in block.splitlines():
                match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (".*")$', line)
                if match:
                    key = match.group(1)
                    fields[key] = ast.literal_eval(match.group(2))
                elif line.startswith('"') and key:
                    fields[key] += ast.literal_eval(line)
            if "msgid" not in fields:
                continue
            entries += 1
            msgid = fields["msgid"]
            if "msgid_plural" in fields:
                assert compiled.ngettext(msgid, fields["msgid_plural"], 1) != msgid, msgid
            elif "msgctxt" in fields:
                assert compiled.pgettext(fields["msgctxt"], msgid) == fields["msgstr"] != "", msgid
            else:
                assert fields["msgstr"], msgid
                assert compiled.gettext(msgid) == fields["msgstr"], msgid
        assert entries > 80
