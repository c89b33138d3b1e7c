"""python manage.py createbrand SLUG --name NAME [--embed-origin ORIGIN ...]"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tracking.models import Brand, Language


class Command(BaseCommand):
    help = "Create a brand (a tenant whose customers see the tracking page)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short unique name used in URLs and keys, e.g. acme")
        parser.add_argument("--name", required=True, help="the name customers see")
        parser.add_argument(
            "--embed-origin",
            action="append",
            default=[],
            metavar="ORIGIN",
            help="a site allowed to embed the page, e.g. https://shop.example.com (repeatable)",
        )
        parser.add_argument("--time-zone", default="Europe/London")
        parser.add_argument("--language", default="en", choices=Language.values)
        parser.add_argument("--primary-colour", default="#1f4e8c")
        parser.add_argument("--accent-colour", default="#0b7a53")
        parser.add_argument("--logo-url", default="")
        parser.add_argument("--support-email", default="")
        parser.add_argument("--support-url", default="")

    def handle(self, *args, **options):
        if Brand.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"A brand with slug {options['slug']!r} already exists.")
        brand = Brand(
            slug=options["slug"],
            name=options["name"],
            embed_origins="\n".join(options["embed_origin"]),
            time_zone=options["time_zone"],
            default_language=options["language"],
            primary_colour=options["primary_colour"],
            accent_colour=options["accent_colour"],
            logo_url=options["logo_url"],
            support_email=options["support_email"],
            support_url=options["support_url"],
        )
        try:
            brand.full_clean()
        except ValidationError as error:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
            )
            raise CommandError(f"Invalid brand: {problems}") from None
        brand.save()
        self.stdout.write(f"Created brand {brand.slug} ({brand.name}).")
