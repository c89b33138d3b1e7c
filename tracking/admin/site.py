"""The back office's admin site: Django's, with failed logins rate-limited, and the support
desk's pages (tracking.admin.desk: the watchlist and the scorecard; tracking.admin.emails: the
email previews) among its URLs and apps."""

from django.contrib import admin
from django.template.response import TemplateResponse

from tracking import ratelimit

# Failed staff logins allowed per client address and per username before a pause: enough for
# typos, far too few for guessing. Counted across workers (Redis or the database).
FAILED_LOGIN_RATE = "10/h"


class BackOfficeSite(admin.AdminSite):
    site_header = "Tracking portal back office"
    site_title = "Tracking portal"
    index_title = "Brands, consignments, legs, events, keys, webhooks and customer emails"
    # The navigation sidebar takes a quarter of a 1280 px screen from every list; the
    # breadcrumbs and the index lead everywhere it does.
    enable_nav_sidebar = False

    def login(self, request, extra_context=None):
        if request.method != "POST":
            return super().login(request, extra_context)
        subjects = [
            ("admin-login-client", ratelimit.client_address(request)),
            ("admin-login-user", request.POST.get("username", "")[:150].strip().lower()),
        ]
        for scope, ident in subjects:
            decision = ratelimit.peek(scope, ident, FAILED_LOGIN_RATE)
            if not decision.allowed:
                response = TemplateResponse(
                    request,
                    "admin/tracking/login_paused.html",
                    {**self.each_context(request), "title": "Too many failed logins"},
                    status=429,
                )
                response["Retry-After"] = str(decision.retry_after)
                return response
        response = super().login(request, extra_context)
        if not request.user.is_authenticated:
            for scope, ident in subjects:
                ratelimit.hit(scope, ident, FAILED_LOGIN_RATE)
        return response

    def get_urls(self):
        # Imported here: tracking.admin.desk registers a model admin, which builds this site.
        from tracking.admin import desk, emails

        return [*desk.urls(self), *emails.urls(self), *super().get_urls()]

    def get_app_list(self, request, app_label=None):
        from tracking.admin import desk

        apps = super().get_app_list(request, app_label)
        return apps if app_label else [desk.app_entry(), *apps]
