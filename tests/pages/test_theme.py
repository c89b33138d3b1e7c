"""Brand colours: WCAG contrast, the safe fallback, and the stylesheet that carries them."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracking.pages import theme

hex_colours = st.integers(min_value=0, max_value=0xFFFFFF).map(lambda n: f"#{n:06x}")


class TestContrast:
    def test_black_on_white_is_21_and_a_colour_on_itself_is_1(self):
        assert theme.contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
        assert theme.contrast_ratio("#1f4e8c", "#1f4e8c") == pytest.approx(1)

    def test_known_ratios(self):
        # Values from WebAIM's contrast checker.
        assert theme.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
        assert theme.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
        assert theme.contrast_ratio("#0000ff", "#ffffff") == pytest.approx(8.59, abs=0.01)
        assert theme.contrast_ratio("#ffff00", "#ffffff") == pytest.approx(1.07, abs=0.01)

    def test_the_order_does_not_matter(self):
        assert theme.contrast_ratio("#b5542d", "#ffffff") == theme.contrast_ratio(
            "#ffffff", "#b5542d"
        )

    def test_bad_colours_are_refused(self):
        with pytest.raises(ValueError):
            theme.relative_luminance("red")


class TestSafeColour:
    def test_a_colour_that_passes_is_kept(self):
        assert theme.safe_colour("#1F4E5F") == "#1f4e5f"
        assert theme.safe_colour("#767676") == "#767676"

    def test_a_colour_that_fails_is_darkened_until_it_passes(self):
        safe = theme.safe_colour("#777777")
        assert safe != "#777777"
        assert theme.contrast_ratio(safe, "#ffffff") >= 4.5
        yellow = theme.safe_colour("#ffd400")
        assert theme.contrast_ratio(yellow, "#ffffff") >= 4.5
        red, green, blue = theme.parse_hex(yellow)
        assert red >= green > blue  # still a yellow-brown, not a different hue

    def test_white_falls_back_to_black(self):
        assert theme.contrast_ratio(theme.safe_colour("#ffffff"), "#ffffff") >= 4.5

    def test_something_that_is_not_a_colour_gets_the_default(self):
        assert theme.safe_colour("not a colour") == theme.DEFAULT_PRIMARY
        assert theme.safe_colour("", default="#0b7a53") == "#0b7a53"

    @given(hex_colours)
    def test_the_result_always_passes(self, colour):
        safe = theme.safe_colour(colour)
        assert theme.contrast_ratio(safe, "#ffffff") >= 4.5
        if theme.contrast_ratio(colour, "#ffffff") >= 4.5:
            assert safe == colour

    @given(hex_colours)
    def test_theme_colours_are_readable_on_white_and_on_their_tint(self, colour):
        safe = theme.safe_colour(colour, tint=theme.TINT)
        assert theme.contrast_ratio(safe, "#ffffff") >= 4.5
        assert theme.contrast_ratio(safe, theme.mix(safe, "#ffffff", theme.TINT)) >= 4.5

    def test_a_brand_colour_that_only_fails_on_its_tint_is_darkened_a_little(self):
        assert theme.contrast_ratio("#b5542d", "#ffffff") >= 4.5
        safe = theme.safe_colour("#b5542d", tint=theme.TINT)
        assert safe != "#b5542d"
        assert theme.contrast_ratio(safe, "#b5542d") < 1.3  # still recognisably the brand's

    def test_the_theme_css_holds_only_safe_colours(self):
        css = theme.theme_css("#ffd400", "#00ff00")
        assert "#ffd400" not in css and "#00ff00" not in css
        for value in re.findall(r"--brand-(?:primary|accent):(#[0-9a-f]{6})", css):
            assert theme.contrast_ratio(value, "#ffffff") >= 4.5
            assert theme.contrast_ratio(value, theme.mix(value, "#ffffff", theme.TINT)) >= 4.5


@pytest.mark.django_db
class TestThemeStylesheet:
    def test_it_is_served_with_long_caching_and_no_query(self, client, django_assert_num_queries):
        with django_assert_num_queries(0):
            response = client.get("/theme/v1/1f4e5f-ac502b.css")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/css; charset=utf-8"
        assert response["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "--brand-primary:#1f4e5f;" in response.content.decode()
        assert not response.cookies

    def test_unsafe_colours_in_the_url_are_still_made_safe(self, client):
        css = client.get("/theme/v1/ffff00-ffffff.css").content.decode()
        assert "#ffff00" not in css and "--brand-accent:#ffffff" not in css

    @pytest.mark.parametrize(
        "path", ["/theme/v2/1f4e5f-b5542d.css", "/theme/v1/zzzzzz-b5542d.css", "/theme/v1/x.css"]
    )
    def test_other_addresses_are_not_found(self, client, path):
        assert client.get(path).status_code == 404

    def test_a_brand_with_failing_colours_gets_the_safe_ones(self, client, page_brand, shipment):
        page_brand.primary_colour = "#ffd400"
        page_brand.accent_colour = "#9be7ff"
        page_brand.save()
        html = client.get(f"/track/{shipment.reference}/").content.decode()
        safe = theme.slug("#ffd400", "#9be7ff")
        assert f'href="/theme/v1/{safe}.css"' in html
        assert "ffd400" not in html and "9be7ff" not in html
