"""What the portal compresses: pages and their live region with gzip (Django's GZipMiddleware,
which pads its output by a random length against BREACH), static files as WhiteNoise
precompressed them, the APIs' JSON not at all; and the live region's 304 still costs one
query."""

import gzip

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

GZIP = {"Accept-Encoding": "gzip, deflate, br, zstd"}  # what Chromium sends
HTMX = {"HX-Request": "true"}


def vary(response) -> set[str]:
    return {value.strip() for value in response["Vary"].split(",")}


class TestPages:
    def test_the_page_is_sent_gzipped_to_a_browser_that_accepts_it(self, client, page_url):
        plain = client.get(page_url)
        packed = client.get(page_url, headers=GZIP)
        assert packed["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in vary(packed)
        assert gzip.decompress(packed.content) == plain.content
        assert len(packed.content) < len(plain.content) / 3

    def test_a_client_that_accepts_no_gzip_gets_the_page_as_it_is(self, client, page_url):
        response = client.get(page_url)
        assert not response.has_header("Content-Encoding")
        assert response.content.startswith(b"<!doctype html>")

    def test_the_compressed_length_varies_from_answer_to_answer(self, client, page_url):
        # Django's answer to BREACH: random padding in the gzip header hides the length an
        # attacker would compare.
        lengths = {len(client.get(page_url, headers=GZIP).content) for _ in range(6)}
        assert len(lengths) > 1


class TestTheLivePoll:
    def test_a_poll_sending_back_the_weak_etag_it_got_is_answered_304_in_one_query(
        self, client, page_url, django_assert_num_queries
    ):
        with django_assert_num_queries(2):
            first = client.get(page_url, headers={**HTMX, **GZIP})
        assert first["Content-Encoding"] == "gzip"
        etag = first["ETag"]
        assert etag.startswith('W/"')
        with django_assert_num_queries(1):
            again = client.get(page_url, headers={**HTMX, **GZIP, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again["ETag"] == etag

    def test_the_same_tag_without_its_w_prefix_is_the_same_validator(
        self, client, page_url, django_assert_num_queries
    ):
        # If-None-Match compares weakly (RFC 9110, 13.1.2), so a proxy that dropped the W/
        # still gets its 304.
        etag = client.get(page_url, headers=HTMX)["ETag"]
        with django_assert_num_queries(1):
            again = client.get(page_url, headers={**HTMX, **GZIP, "If-None-Match": etag[2:]})
        assert again.status_code == 304

    def test_a_changed_region_is_sent_gzipped(self, client, page_url):
        response = client.get(page_url, headers={**HTMX, **GZIP, "If-None-Match": 'W/"old"'})
        assert response.status_code == 200
        assert gzip.decompress(response.content).lstrip().startswith(b'<div id="live"')


class TestEverythingElse:
    def test_api_json_is_sent_as_it_is(self, client, our_key, consignment):
        response = client.get(f"/v1/consignments/{consignment.pk}", headers=GZIP, **our_key.bearer)
        assert response.status_code == 200
        assert not response.has_header("Content-Encoding")
        assert response.content.startswith(b"{")

    def test_static_files_are_left_to_whitenoise(self):
        # Below WhiteNoise, GZipMiddleware never sees a static file: WhiteNoise answers those
        # with the .gz or .br it made at collectstatic time, and images as they are.
        order = settings.MIDDLEWARE
        assert order.index("tracking.pages.middleware.PageGZipMiddleware") > order.index(
            "whitenoise.middleware.WhiteNoiseMiddleware"
        )
