"""No cache may keep an API answer: the middleware that says so for both APIs.

Every answer is private to the key that asked for it, and Sorted's key travels in a header
(`ocp-apim-subscription-key`) that a shared cache does not know is a credential, so a proxy
could hand one client's answer to the next. So every answer under /v1 and /tracking, whatever
made it (a view, an API's error handler, the site's 404, 500 and 503 handlers, another
middleware), leaves with `Cache-Control: private, no-store` and a Vary naming the key headers.
No API answer carries a validator (ETag, Last-Modified), so there is nothing to revalidate.

The OpenAPI schema and docs under /api/ are the same for everyone, hold no private data and
are fetched without a key: they stay cacheable.
"""

from django.utils.cache import patch_vary_headers

API_ROOTS = ("/v1", "/tracking")
CACHE_CONTROL = "private, no-store"
KEY_HEADERS = ("Authorization", "Ocp-Apim-Subscription-Key")


def is_api_path(path: str) -> bool:
    """Whether a path belongs to one of the APIs, routed or not (an unknown one is its 404)."""
    return any(path == root or path.startswith(f"{root}/") for root in API_ROOTS)


class PrivateApiAnswersMiddleware:
    """Outermost, so it also marks answers that other middleware or the error handlers made."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_api_path(request.path_info):
            # Set, not merged: whatever a view asked for, the API's rule is the stricter one.
            response["Cache-Control"] = CACHE_CONTROL
            patch_vary_headers(response, KEY_HEADERS)
        return response
