"""`Status` objects, the body of every error the Kubernetes API returns."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

REASON_BY_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason or REASON_BY_CODE.get(code, ""),
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def status_response(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> web.Response:
    """A JSON `Status` response, e.g. status_response(400, "BadRequest", "container name must be given")."""
    return web.Response(
        status=code,
        text=json.dumps(status_body(code, reason, message, details)),
        content_type="application/json",
    )


class ApiError(Exception):
    """Raised anywhere in a handler; the middleware turns it into a Status response."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def response(self) -> web.Response:
        return status_response(self.code, self.reason, self.message, self.details)
