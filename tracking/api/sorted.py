"""The Sorted PRO-compatible tracking API under /tracking (placeholder until built)."""

import uuid

from django.http import JsonResponse

urlpatterns: list = []


def error_response(status: int, code: str, message: str, details=()) -> JsonResponse:
    body = {
        "Code": code,
        "Message": message,
        "CorrelationId": str(uuid.uuid4()),
        "Details": list(details),
    }
    return JsonResponse(body, status=status)


def not_found(request) -> JsonResponse:
    return error_response(404, "NotFound", f"No resource at {request.path}.")


def server_error(request) -> JsonResponse:
    return error_response(500, "ServerError", "Something went wrong on our side.")
