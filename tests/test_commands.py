"""The operator commands, as an operator or a script would run them."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tracking.models import ApiKey, Brand, Carrier, Consignment, TrackingEvent
from tracking.status import Status

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class TestCreateBrand:
    def test_it_creates_a_brand_with_its_embed_origins(self):
        output = run(
            "createbrand",
            "acme",
            "--name",
            "Acme Parcels",
            "--embed-origin",
            "https://shop.acme.example",
            "--embed-origin",
            "https://*.acme.example",
        )
        brand = Brand.objects.get(slug="acme")
        assert brand.name == "Acme Parcels"
        assert brand.embed_origin_list == ["https://shop.acme.example", "https://*.acme.example"]
        assert "Created brand acme" in output

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--embed-origin", "https://shop.example.com/path"], "embed_origins"),
            (["--embed-origin", "*"], "embed_origins"),
            (["--time-zone", "Mars/Olympus"], "time_zone"),
            (["--primary-colour", "red"], "primary_colour"),
        ],
    )
    def test_bad_values_are_refused_naming_the_field(self, args, message):
        with pytest.raises(CommandError, match=message):
            run("createbrand", "acme", "--name", "Acme", *args)
        assert not Brand.objects.exists()

    def test_a_new_brand_needs_a_name(self, db):
        with pytest.raises(CommandError, match="give --name"):
            run("createbrand", "acme", "--embed-origin", "https://shop.acme.example")
        assert not Brand.objects.exists()

    def test_run_again_it_renames_the_brand_and_adds_embed_origins(self, brand):
        brand.embed_origins = "https://shop.harbour.example"
        brand.primary_colour = "#123456"
        brand.save()
        output = run(
            "createbrand",
            brand.slug,
            "--name",
            "Harbour & Pine Outlet",
            "--embed-origin",
            "https://outlet.harbour.example",
            "--embed-origin",
            "https://SHOP.harbour.example/",
        )
        brand.refresh_from_db()
        assert brand.name == "Harbour & Pine Outlet"
        assert brand.embed_origin_list == [
            "https://shop.harbour.example",
            "https://outlet.harbour.example",
        ]
        assert brand.primary_colour == "#123456"
        assert "Updated brand harbour" in output
        assert Brand.objects.count() == 1

    def test_run_again_it_keeps_the_name_when_none_is_given(self, brand):
        run("createbrand", brand.slug, "--embed-origin", "https://shop.harbour.example")
        brand.refresh_from_db()
        assert brand.name == "Harbour & Pine"
        assert brand.embed_origin_list == ["https://shop.harbour.example"]

    def test_it_removes_an_embed_origin(self, brand):
        brand.embed_origins = "https://shop.harbour.example\nhttps://old.harbour.example"
        brand.save()
        run("createbrand", brand.slug, "--remove-embed-origin", "https://old.harbour.example/")
        brand.refresh_from_db()
        assert brand.embed_origin_list == ["https://shop.harbour.example"]

    def test_removing_an_origin_the_brand_lacks_changes_nothing(self, brand):
        brand.embed_origins = "https://shop.harbour.example"
        brand.save()
        with pytest.raises(CommandError, match="no embed origin 'https://typo.example'"):
            run(
                "createbrand",
                brand.slug,
                "--name",
                "Renamed",
                "--remove-embed-origin",
                "https://typo.example",
            )
        brand.refresh_from_db()
        assert (brand.name, brand.embed_origins) == (
            "Harbour & Pine",
            "https://shop.harbour.example",
        )

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--embed-origin", "https://shop.example.com/path"], "embed_origins"),
            (["--time-zone", "Mars/Olympus"], "time_zone"),
        ],
    )
    def test_an_update_is_validated_like_a_new_brand(self, brand, args, message):
        with pytest.raises(CommandError, match=message):
            run("createbrand", brand.slug, "--name", "Renamed", *args)
        brand.refresh_from_db()
        assert (brand.name, brand.embed_origins, brand.time_zone) == (
            "Harbour & Pine",
            "",
            "Europe/London",
        )


class TestCreateApiKey:
    def test_a_client_key_prints_the_secret_alone_on_the_last_line(self, brand):
        output = run("createapikey", "Warehouse", "--brand", brand.slug)
        secret = output.strip().splitlines()[-1]
        key = ApiKey.objects.get()
        assert key.hashed_secret == ApiKey.hash(secret)
        assert (key.role, key.brand, key.name) == ("client", brand, "Warehouse")

    def test_a_carrier_key_creates_the_carrier_when_new(self, db):
        output = run("createapikey", "Feed", "--carrier", "carrier_z", "--carrier-name", "Zed")
        key = ApiKey.objects.get()
        assert (key.role, key.carrier.code, key.carrier.name) == ("carrier", "CARRIER_Z", "Zed")
        assert ApiKey.hash(output.strip().splitlines()[-1]) == key.hashed_secret

    def test_an_expiring_key(self, brand):
        run("createapikey", "Temp", "--brand", brand.slug, "--expires-days", "30")
        assert ApiKey.objects.get().expires_at is not None

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--brand", "nope"], "No brand"),
            (["--carrier", "not a code"], "upper-case code"),
            (["--brand", "harbour", "--expires-days", "0"], "at least 1"),
        ],
    )
    def test_bad_arguments_are_refused(self, brand, args, message):
        with pytest.raises(CommandError, match=message):
            run("createapikey", "X", *args)
        assert not ApiKey.objects.exists()


class TestSeedDemo:
    def test_it_covers_every_status_and_is_idempotent(self):
        output = run("seed_demo")
        assert "/track/EC-DEM-000-001/" in output
        counts = (
            Consignment.objects.count(),
            TrackingEvent.objects.count(),
            Carrier.objects.count(),
        )
        run("seed_demo")
        assert (
            Consignment.objects.count(),
            TrackingEvent.objects.count(),
            Carrier.objects.count(),
        ) == counts
        assert set(Consignment.objects.values_list("status", flat=True)) == set(Status)

    def test_it_has_a_multi_leg_multi_package_journey_and_a_signed_delivery(self):
        run("seed_demo")
        showcase = Consignment.objects.get(reference="EC-DEM-000-001")
        assert showcase.packages.count() == 2
        assert showcase.legs.count() == 2
        assert sorted(showcase.packages.values_list("status", flat=True)) == [4, 5]
        assert TrackingEvent.objects.filter(status=Status.DELIVERED).exclude(signed_by="").exists()
        assert Consignment.objects.filter(status=Status.EXCEPTION).exists()


class TestEnsureAdmin:
    def test_it_creates_an_admin_once_then_reports_it(self, tmp_path, monkeypatch):
        from tracking.management.commands import ensureadmin

        monkeypatch.setattr(ensureadmin, "PASSWORD_FILE", tmp_path / ".admin-password")
        first = run("ensureadmin")
        password = (tmp_path / ".admin-password").read_text().strip()
        assert "admin" in first and password in first
        second = run("ensureadmin")
        assert "Back-office login: admin" in second
        assert password not in second
