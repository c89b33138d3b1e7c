from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking"
    default_auto_field = "django.db.models.BigAutoField"


class BackOfficeAdminConfig(AdminConfig):
    """Django's admin, served by our site class (which rate-limits failed logins)."""

    default_site = "tracking.admin_site.BackOfficeSite"
