"""python manage.py createstaff USERNAME --brand SLUG: a back-office login for one brand's own
support team (design section 7.5). They see and change that brand's consignments, packages,
legs, events, client API keys and webhook subscriptions (and see their deliveries), see its
customers' email subscribers and emails (unsubscribing one or suppressing its address), and
nothing of any other brand (tracking/admin/scope.py).

The password is PORTAL_PASSWORD's when set, else generated and printed alone on the last line.
Run again for an existing user, it moves them to the brand given and keeps their password,
unless PORTAL_PASSWORD is set (then it is replaced). The "Brand staff" group's permissions are
set to exactly scope.BRAND_STAFF_PERMISSIONS on every run.
"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tracking.admin.scope import BRAND_STAFF_GROUP, BRAND_STAFF_PERMISSIONS
from tracking.models import Brand, BrandStaff


def brand_staff_group() -> Group:
    group, _ = Group.objects.get_or_create(name=BRAND_STAFF_GROUP)
    wanted = []
    for model, actions in BRAND_STAFF_PERMISSIONS.items():
        content_type = ContentType.objects.get_for_model(model)
        codenames = [f"{action}_{model._meta.model_name}" for action in actions]
        wanted += Permission.objects.filter(content_type=content_type, codename__in=codenames)
    group.permissions.set(wanted)
    return group


class Command(BaseCommand):
    help = "Create (or move) a back-office user who sees one brand's data only."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--brand", required=True, help="the brand's slug")
        parser.add_argument("--email", default=None)

    @transaction.atomic
    def handle(self, *args, **options):
        username = options["username"].strip()
        if not username:
            raise CommandError("Give a username.")
        brand = Brand.objects.filter(slug=options["brand"]).first()
        if brand is None:
            raise CommandError(f"No brand with the slug {options['brand']!r}.")
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is not None and user.is_superuser:
            raise CommandError(
                f"{username} is a superuser and sees every brand; brand staff are other users."
            )
        given = os.environ.get("PORTAL_PASSWORD") or None
        created = user is None
        if created:
            user = users.create_user(username, email=options["email"] or "")
        elif options["email"] is not None:
            user.email = options["email"]
        password = given or (secrets.token_urlsafe(12) if created else None)
        if password is not None:
            user.set_password(password)
        user.is_staff = True
        user.is_active = True
        user.save()
        user.groups.add(brand_staff_group())
        BrandStaff.objects.update_or_create(user=user, defaults={"brand": brand})

        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} back-office user {username} for brand {brand.slug}.")
        if password is None:
            self.stdout.write("Password unchanged (set PORTAL_PASSWORD to replace it).")
        elif given:
            self.stdout.write("Password set from PORTAL_PASSWORD.")
        else:
            self.stdout.write("Password (shown once):")
            self.stdout.write(password)
