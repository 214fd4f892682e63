"""How every failure becomes one JSON shape: ``{"error", "message", "details"}``, never a traceback.

- the body is not JSON: 400 ``invalid_json``;
- JSON that breaks the request schema (no ``texts``, a non-string item, an empty
  list, too many texts, a text over the length limit, an unknown field): 422
  ``invalid_request``, a sentence per problem naming the field and the limit;
- a body over the byte limit: 413 ``body_too_large`` (`body_limit.py`);
- the same for ``POST /v1/explain``'s ``{"text", "target", "steps", "method"}``,
  and 422 ``unknown_label`` for a target that is not one of the model's labels;
- an input the model's encoder refuses (letters sent to an id model): 422
  ``unreadable_input`` with the encoder's message;
- an unknown route or method: 404 / 405; anything else is a bug: 500 ``internal``,
  with the traceback in the server log only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rnnlab.serving.extra import missing_extra

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
except ModuleNotFoundError as exc:  # the [serve] extra is not installed
    raise missing_extra(exc) from None

log = logging.getLogger("rnnlab.serving")

REQUEST_SHAPE = '{"texts": ["...", ...]}'
EXPLAIN_SHAPE = '{"text": "...", "target": LABEL (optional), "steps": N (optional)}'
FIELDS = {REQUEST_SHAPE: "`texts`", EXPLAIN_SHAPE: "`text`, `target`, `steps` and `method`"}
MAX_DETAILS = 20  # a request with 10,000 bad items gets a short answer, not an echo


def error_json(
    status: int, error: str, message: str, details: Sequence[dict[str, str]] = ()
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "message": message, "details": list(details)}, status_code=status
    )


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type: what the client sent, in its terms."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def field_name(loc: Sequence[Any]) -> str:
    """('body', 'texts', 2) -> 'texts[2]'; the body itself is ''."""
    name = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def problem(error: dict[str, Any], shape: str = REQUEST_SHAPE) -> str:
    """One sentence for one Pydantic / FastAPI validation error of a body like ``shape``."""
    kind, loc, ctx = error.get("type", ""), tuple(error.get("loc", ())), error.get("ctx") or {}
    field, value = field_name(loc), error.get("input")
    if kind == "json_invalid":
        return f"the body is not valid JSON: {ctx.get('error', 'it does not parse')}"
    if not field:
        if kind == "missing":
            return f"the request has no body: send a JSON object {shape}"
        return f"the body must be a JSON object {shape}, got {json_type(value)}"
    if kind == "missing":
        return f"`{field}` is missing: send {shape}"
    if kind == "extra_forbidden":
        return f"unknown field `{field}`: the body takes only {FIELDS.get(shape, shape)}"
    if field == "texts":
        if kind == "list_type":
            return f"`texts` must be an array of strings, got {json_type(value)}"
        if kind == "too_short":
            return "`texts` is empty: send at least one text"
        if kind == "too_long":
            count = ctx.get("actual_length", len(value) if isinstance(value, list) else "?")
            return (
                f"too many texts: {count}; the limit is {ctx.get('max_length')} per request "
                "(the server's --max-texts)"
            )
    if field.startswith("texts[") or field in ("text", "target"):
        if kind == "string_type":
            return f"{field} must be a string, got {json_type(value)}"
        if kind == "string_too_long":
            length = len(value) if isinstance(value, str) else "too many"
            return (
                f"{field} has {length:,} characters; the limit is "
                f"{ctx.get('max_length'):,} (the server's --max-text-chars)"
            )
        if kind == "string_too_short":
            return f"`{field}` is empty: send a text to explain"
        if kind == "string_pattern_mismatch":
            return f"`{field}` holds only spaces: send a text to explain"
    if field == "steps":
        if kind == "int_type":
            return f"`steps` must be a whole number, got {json_type(value)}"
        if kind == "greater_than_equal":
            return f"`steps` must be at least {ctx.get('ge')}, got {value}"
        if kind == "less_than_equal":
            return (
                f"`steps` is {value}; the limit is {ctx.get('le')} "
                "(the server's --max-explain-steps)"
            )
    if field == "method" and kind == "literal_error":
        return f"`method` must be one of {ctx.get('expected')}, got {value!r}"
    return f"{field}: {error.get('msg', kind)}"


def invalid_body(
    errors: Sequence[dict[str, Any]], body: bytes | None = None, shape: str = REQUEST_SHAPE
) -> JSONResponse:
    """400 for a body that is not JSON, 422 for JSON that breaks the schema; every problem named.

    ``body``: the request body the errors are about, when it was parsed by hand;
    ``shape``: what the route's body looks like, for the messages.
    """
    if body is not None and not body.strip():
        return error_json(
            400, "invalid_json", f"the request has no body: send a JSON object {shape}"
        )
    details = [
        {"field": field_name(e.get("loc", ())), "problem": problem(e, shape)}
        for e in errors[:MAX_DETAILS]
    ]
    message = details[0]["problem"] if details else "the request does not match the schema"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_json(400, "invalid_json", message, details)
    return error_json(422, "invalid_request", message, details)


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own validation (of parameters other than the parsed body) in the same shape."""
    return invalid_body(list(exc.errors()))


async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 404:
        message = (
            f"no such route: {request.method} {request.url.path}; see /docs for the "
            "API (POST /v1/predict, POST /v1/explain, GET /v1/model, GET /health)"
        )
        return error_json(404, "not_found", message)
    if exc.status_code == 405:
        return error_json(
            405,
            "method_not_allowed",
            f"{request.url.path} does not take {request.method}; see /docs",
        )
    return error_json(exc.status_code, "http_error", str(exc.detail))


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return error_json(500, "internal", "the server failed to answer; its log has the details")


def install(app: FastAPI) -> None:
    """Route every failure of ``app`` through the handlers above."""
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
