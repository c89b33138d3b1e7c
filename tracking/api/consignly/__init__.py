"""The Consignly-compatible tracking API under /v1: `fields` (its wire fields and shapes),
`views` (its error envelope, paging and viewsets), `schema` (its OpenAPI text).

The site's error handlers answer /v1 paths through the envelope named here.
"""

from tracking.api.consignly.views import error_response, not_found, server_error

__all__ = ["error_response", "not_found", "server_error"]
