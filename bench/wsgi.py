"""The portal plus a bare reference view, for benchmarks only: `gunicorn bench.wsgi`.

The reference is what Django itself costs for a small template view in the same process, so
the portal's figures can be given as ratios measured in one run on the same machine.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402

settings.ROOT_URLCONF = "bench.urls"
settings.TEMPLATES[0]["DIRS"].append(settings.BASE_DIR / "bench" / "templates")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
