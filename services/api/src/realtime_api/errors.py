"""The API's refusals: the shared error shape (`reservesync.http_errors`), the parameter
problems its routes raise, and the refusals each route documents."""

from __future__ import annotations

from typing import Any

from reservesync.http_errors import ApiError, Problem, documented

_DESCRIBED = {
    400: "invalid, unknown or repeated parameter (the body names which)",
    401: "an owner proof was given and does not prove ownership",
    404: "nothing is known about this address",
    429: "too many requests from this client; Retry-After says when to come back",
    503: "the database or the reserves snapshot is not available yet; retry after Retry-After",
}


def parameter_error(name: str, message: str, location: str = "query") -> ApiError:
    return ApiError(
        400,
        "invalid_parameter",
        f"{name}: {message}",
        [Problem(location=location, name=name, message=message)],
    )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The refusals a route documents in the OpenAPI document, each with the error body."""
    return documented(_DESCRIBED, *statuses)
