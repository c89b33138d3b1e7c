"""What a page represents: every brand change moves Brand.revision (the database does it), and
with it the page's ETag and the body kept for it; the code's own revision is in every ETag."""

import pytest
from django.db import connection

from tests.helpers import text_of
from tracking.models import Brand
from tracking.pages import caching

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def revision(brand: Brand) -> int:
    return Brand.objects.values_list("revision", flat=True).get(pk=brand.pk)


class TestBrandRevision:
    def test_a_save_moves_it_on_by_one(self, page_brand):
        before = revision(page_brand)
        page_brand.name = "Harbour & Pine Outlet"
        page_brand.save()
        assert revision(page_brand) == before + 1

    def test_a_stale_instance_cannot_move_it_back(self, page_brand):
        stale = Brand.objects.get(pk=page_brand.pk)
        page_brand.save()
        page_brand.save()
        stale.save()
        assert revision(page_brand) == 3

    def test_a_queryset_update_moves_it_on(self, page_brand):
        before = revision(page_brand)
        Brand.objects.filter(pk=page_brand.pk).update(support_email="help@example.com")
        assert revision(page_brand) == before + 1

    def test_raw_sql_moves_it_on(self, page_brand):
        before = revision(page_brand)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE tracking_brand SET logo_url = %s WHERE id = %s", ["", page_brand.pk]
            )
        assert revision(page_brand) == before + 1

    def test_other_brands_keep_theirs(self, page_brand):
        other = Brand.objects.create(slug="other-shop", name="Other Shop")
        page_brand.save()
        assert revision(other) == 0


class TestTheRepresentation:
    def test_a_brand_edit_changes_the_etag_and_the_page(self, client, page_brand, page_url):
        first = client.get(page_url)
        Brand.objects.filter(pk=page_brand.pk).update(name="Harbour & Pine Outlet")
        second = client.get(page_url, headers={"If-None-Match": first["ETag"]})
        assert second.status_code == 200
        assert second["ETag"] != first["ETag"]
        assert "Harbour & Pine Outlet" in text_of(second)

    def test_a_brand_edit_changes_the_live_regions_etag(self, client, page_brand, page_url):
        etag = client.get(page_url, headers=HTMX)["ETag"]
        page_brand.embed_origins = "https://shop.example"
        page_brand.save()
        assert client.get(page_url, headers={**HTMX, "If-None-Match": etag}).status_code == 200

    def test_the_code_revision_is_part_of_every_etag(self, client, page_url, monkeypatch):
        etag = client.get(page_url)["ETag"]
        monkeypatch.setattr(caching, "CODE_REVISION", "another-release")
        assert client.get(page_url)["ETag"] != etag

    def test_the_code_revision_follows_the_templates(self, tmp_path, monkeypatch, settings):
        template = tmp_path / "templates" / "page.html"
        template.parent.mkdir()
        template.write_text("<p>one</p>")
        monkeypatch.setattr(caching, "_SOURCES", ((tmp_path / "templates", "**/*.html"),))
        first = caching.code_revision()
        assert caching.code_revision() == first
        template.write_text("<p>two</p>")
        assert caching.code_revision() != first
