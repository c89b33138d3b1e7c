"""The back office's admin site: Django's, with failed logins rate-limited."""

from django.contrib import admin
from django.template.response import TemplateResponse

from tracking import ratelimit

# Failed staff logins allowed per client address and per username before a pause: enough for
# typos, far too few for guessing. Counted across workers (Redis or the database).
FAILED_LOGIN_RATE = "10/h"


class BackOfficeSite(admin.AdminSite):
    site_header = "Tracking portal back office"
    site_title = "Tracking portal"
    index_title = "Brands, consignments, legs, events and keys"

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
