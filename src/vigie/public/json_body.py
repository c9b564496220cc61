"""The JSON endpoints' bodies, read by the route itself in one pydantic call.

FastAPI reads a declared ``Body()`` model through its dependency machinery (the content
type parsed by the ``email`` package, the body decoded by the ``json`` module, then
validated field by field): about a fifth of the public JSON endpoints' own work. Here the
route reads the bytes and :meth:`pydantic.BaseModel.model_validate_json` parses and
validates them at once; the OpenAPI document describes the body as FastAPI would
(:func:`documented`), and a body that does not match answers the same 422 problem
(through the app's :class:`~fastapi.exceptions.RequestValidationError` handler).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

Model = TypeVar("Model", bound=BaseModel)


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose JSON body is ``model`` (required)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def parse(request: Request, model: type[Model]) -> Model:
    """The body of ``request`` as ``model``; :class:`RequestValidationError` if it is not."""
    content_type = request.headers.get("content-type")
    if content_type is not None and not _is_json(content_type):
        raise RequestValidationError(
            [{"type": "model_attributes_type", "loc": ("body",), "msg": "not JSON", "input": None}]
        )
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
