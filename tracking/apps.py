from importlib import import_module

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The email provider's bounces and complaints suppress the address (django-anymail).
        from anymail.signals import tracking

        from tracking.delivery.bounces import on_tracking

        tracking.connect(on_tracking, dispatch_uid="tracking.suppress-bounces")


class BackOfficeAdminConfig(AdminConfig):
    """Django's admin, served by our site class (which rate-limits failed logins)."""

    default_site = "tracking.admin.site.BackOfficeSite"

    def ready(self):
        # Import the back office before anything touches the default site, so that its first
        # registration is what builds the site. The other way round, building the site imports
        # tracking.admin.site and so this package, whose registrations would build a second
        # site while the first was still being built, and the first, without them, be kept.
        import_module("tracking.admin")
        super().ready()
