"""Request-wide plumbing: choosing the language of a response, compressing pages, and the
Permissions-Policy header that Django has no setting for."""

from django.conf import settings
from django.middleware.gzip import GZipMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers

SUPPORTED = {code for code, _name in settings.LANGUAGES}


class LanguageMiddleware:
    """The language comes from `?lang=` when it names one we speak, else from Accept-Language.

    A query parameter rather than a cookie keeps public pages cookie-free and cacheable, and
    lets a brand link straight to the German page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        requested = request.GET.get("lang", "")
        request.language_from_url = requested in SUPPORTED
        language = requested if request.language_from_url else None
        request.language_from_header = bool(request.headers.get("Accept-Language"))
        if language is None:
            language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ["Accept-Language"])
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class PermissionsPolicyMiddleware:
    """Send settings.PERMISSIONS_POLICY on every response, static files included (it sits
    above WhiteNoise); a response that already names its own policy keeps it."""

    def __init__(self, get_response):
        self.get_response = get_response
        # Formatted once per process: the live region's 304 is answered in microseconds.
        self.header = ", ".join(
            f"{feature}=({' '.join(allowlist)})"
            for feature, allowlist in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.header)
        return response


class PageGZipMiddleware(GZipMiddleware):
    """Django's GZipMiddleware for HTML only: the typical tracking page (bench/build_data.py's
    EC-BEN-000-001: 2 packages, 2 legs, 30 events) shrinks from 61 KB to under 5 KB.

    BREACH needs a secret and text an attacker chooses in the same compressed body: the pages
    reflect nothing chosen elsewhere beside the recipient's details (and a cross-site POST is
    refused before anything is echoed), their form tokens are the same for every visitor, and
    Django pads each gzipped body by a random length besides. The APIs' JSON stays as it is:
    a few KB for a server on a fast link, where compressing would cost more CPU than it saves
    in transfer. Static files never reach here (WhiteNoise above answers them, precompressed).
    """

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
