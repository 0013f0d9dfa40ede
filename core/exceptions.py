"""One application error type and the handler that turns errors into readable 400/403/404/409 answers."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(Exception):
    """A request the platform understands but refuses; `status_code` says how."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class Conflict(ApplicationError):
    """The object changed under the caller (another reviewer, a finished job): 409 with the current state."""

    status_code = status.HTTP_409_CONFLICT


class TooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)  # our services say why; keep it

    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=exc.status_code)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        fields = {key: value for key, value in response.data.items() if key != "non_field_errors"}
        messages = response.data.get("non_field_errors", [])
        detail = " ".join(str(m) for m in messages) or "; ".join(
            f"{key}: {' '.join(str(v) for v in value) if isinstance(value, list) else value}"
            for key, value in fields.items()
        )
        response.data = {"detail": detail, "errors": response.data}
    return response
