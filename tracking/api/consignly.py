"""The Consignly-compatible tracking API under /v1 (placeholder until built)."""

from django.http import JsonResponse

urlpatterns: list = []


def error_response(status: int, error_type: str, messages: list[str]) -> JsonResponse:
    return JsonResponse({"ErrorType": error_type, "ErrorMessages": messages}, status=status)


def not_found(request) -> JsonResponse:
    return error_response(404, "Not Found", [f"No resource at {request.path}."])


def server_error(request) -> JsonResponse:
    return error_response(500, "Server Error", ["Something went wrong on our side."])
