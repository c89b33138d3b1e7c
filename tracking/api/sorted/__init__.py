"""The Sorted PRO-compatible tracking API under /tracking: `shapes` (its envelope and answers,
as tables), `batch` (a carrier's batch, read and checked), `views`, `schema` (its OpenAPI text).

The site's error handlers answer /tracking paths through the envelope named here.
"""

from tracking.api.sorted.shapes import error_response
from tracking.api.sorted.views import not_found, server_error

__all__ = ["error_response", "not_found", "server_error"]
