"""python manage.py createbrand SLUG --name NAME [--embed-origin ORIGIN ...]

Run again for an existing brand to change it: `--name` renames it, `--embed-origin` adds an
origin, `--remove-embed-origin` removes one, and any other option given replaces its value.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tracking.models import Brand, Language, parse_origins

# The values a new brand gets for the options left out; an existing brand keeps its own.
DEFAULTS = {
    "time_zone": "Europe/London",
    "default_language": "en",
    "primary_colour": "#1f4e8c",
    "accent_colour": "#0b7a53",
    "logo_url": "",
    "support_email": "",
    "support_url": "",
}


class Command(BaseCommand):
    help = (
        "Create a brand (a tenant whose customers see the tracking page), or change an "
        "existing one: its name, embed origins and the other options given."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short unique name used in URLs and keys, e.g. acme")
        parser.add_argument(
            "--name", help="the name customers see (required for a new brand; renames one)"
        )
        parser.add_argument(
            "--embed-origin",
            action="append",
            default=[],
            metavar="ORIGIN",
            help="add a site allowed to embed the page, e.g. https://shop.example.com (repeatable)",
        )
        parser.add_argument(
            "--remove-embed-origin",
            action="append",
            default=[],
            metavar="ORIGIN",
            help="remove an existing brand's embed origin (repeatable)",
        )
        parser.add_argument("--time-zone", help=f"default {DEFAULTS['time_zone']}")
        parser.add_argument(
            "--language",
            dest="default_language",
            choices=Language.values,
            help=f"default {DEFAULTS['default_language']}",
        )
        parser.add_argument("--primary-colour", help=f"default {DEFAULTS['primary_colour']}")
        parser.add_argument("--accent-colour", help=f"default {DEFAULTS['accent_colour']}")
        parser.add_argument("--logo-url")
        parser.add_argument("--support-email")
        parser.add_argument("--support-url")

    def handle(self, *args, **options):
        given = {field: options[field] for field in DEFAULTS if options[field] is not None}
        with transaction.atomic():
            # Locked, so two runs adding different origins at once both keep theirs.
            brand = Brand.objects.select_for_update().filter(slug=options["slug"]).first()
            if brand is None:
                brand, changed, verb = self.new_brand(options, given), None, "Created"
            else:
                changed, verb = self.change(brand, options, given), "Updated"
            try:
                brand.full_clean()
            except ValidationError as error:
                problems = "; ".join(
                    f"{field}: {' '.join(messages)}"
                    for field, messages in error.message_dict.items()
                )
                raise CommandError(f"Invalid brand: {problems}") from None
            brand.save(update_fields=changed)
        origins = ", ".join(brand.embed_origin_list) or "none"
        self.stdout.write(f"{verb} brand {brand.slug} ({brand.name}); embed origins: {origins}.")

    def new_brand(self, options, given) -> Brand:
        if options["name"] is None:
            raise CommandError(f"No brand {options['slug']!r} yet: give --name to create it.")
        if options["remove_embed_origin"]:
            raise CommandError("A new brand has no embed origins to remove.")
        return Brand(
            slug=options["slug"],
            name=options["name"],
            embed_origins="\n".join(options["embed_origin"]),
            **(DEFAULTS | given),
        )

    def change(self, brand: Brand, options, given) -> list[str]:
        """Apply the options given to `brand`; the fields they change."""
        origins = brand.embed_origin_list
        for origin in parse_origins("\n".join(options["remove_embed_origin"])):
            if origin not in origins:
                listed = ", ".join(origins) or "none"
                raise CommandError(
                    f"Brand {brand.slug} has no embed origin {origin!r} (it has: {listed}); "
                    "nothing changed."
                )
            origins.remove(origin)
        for origin in parse_origins("\n".join(options["embed_origin"])):
            if origin not in origins:
                origins.append(origin)
        brand.embed_origins = "\n".join(origins)
        if options["name"] is not None:
            brand.name = options["name"]
        for field, value in given.items():
            setattr(brand, field, value)
        return ["name", "embed_origins", *given]
