"""createstaff: a login for one brand's support team (design section 7.5)."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from tracking.admin.scope import BRAND_STAFF_GROUP
from tracking.models import BrandStaff

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("createstaff", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_generated_password_alone_on_the_last_line(brand, monkeypatch):
    monkeypatch.delenv("PORTAL_PASSWORD", raising=False)
    password = run("hazel", "--brand", brand.slug).strip().splitlines()[-1]
    user = authenticate(username="hazel", password=password)
    assert user is not None and user.is_staff and not user.is_superuser
    assert user.brand_staff.brand == brand
    assert list(user.groups.values_list("name", flat=True)) == [BRAND_STAFF_GROUP]
    assert user.has_perm("tracking.change_consignment")
    assert user.has_perm("tracking.add_trackingevent")
    assert not user.has_perm("tracking.change_trackingevent")
    assert not user.has_perm("tracking.delete_consignment")
    assert not user.has_perm("tracking.view_carrier")


def test_it_takes_the_password_from_portal_password(brand, monkeypatch):
    monkeypatch.setenv("PORTAL_PASSWORD", "correct horse battery")
    output = run("hazel", "--brand", brand.slug)
    assert "correct horse battery" not in output
    assert authenticate(username="hazel", password="correct horse battery") is not None


def test_run_again_it_moves_the_user_and_keeps_the_password(brand, other_brand, monkeypatch):
    monkeypatch.setenv("PORTAL_PASSWORD", "first password")
    run("hazel", "--brand", brand.slug)
    monkeypatch.delenv("PORTAL_PASSWORD")
    output = run("hazel", "--brand", other_brand.slug)
    assert output.strip().splitlines()[-1] == (
        "Password unchanged (set PORTAL_PASSWORD to replace it)."
    )
    assert authenticate(username="hazel", password="first password") is not None
    assert BrandStaff.objects.get().brand == other_brand
    monkeypatch.setenv("PORTAL_PASSWORD", "second password")
    run("hazel", "--brand", other_brand.slug)
    assert authenticate(username="hazel", password="second password") is not None


def test_it_refuses_an_unknown_brand_and_a_superuser(brand, admin_user):
    with pytest.raises(CommandError, match="No brand"):
        run("hazel", "--brand", "nope")
    with pytest.raises(CommandError, match="superuser"):
        run(admin_user.username, "--brand", brand.slug)
    assert not BrandStaff.objects.exists()
