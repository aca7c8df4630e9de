"""Request bodies validated as the JSON they are, strictly: a body the OpenAPI document calls
invalid is refused (422), never quietly coerced.

Django Ninja parses a JSON body and validates the resulting dict in pydantic's lax Python mode,
which accepts ``"5"``, ``5.0`` and ``true`` for an integer, ``"true"`` or ``1`` for a boolean and
a number of seconds for a date-time. Pydantic's strict mode in Python would refuse the ISO
strings of every UUID, date and enum value as well; its strict *JSON* mode is the JSON schema's
own reading: strings for UUIDs, dates, times and enum values, and for numbers, booleans and
strings only those JSON types.

Every JSON body of ``/api/v1`` is declared ``payload: JsonBody[SomeIn]``; a test walks the API
and fails for a body declared any other way.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ninja.params import ParamShortcut
from ninja.params.models import Body, BodyModel
from pydantic import BaseModel

if TYPE_CHECKING:
    from django.http import HttpRequest
    from ninja import NinjaAPI


class StrictJsonBodyModel(BodyModel):
    """A body model resolved by validating the request's JSON in strict JSON mode. An unreadable
    body is still Ninja's 400 (parsed once by the API's parser first)."""

    @classmethod
    def resolve(cls, request: HttpRequest, api: NinjaAPI, path_params: dict[str, Any]) -> Any:
        data = cls.get_request_data(request, api, path_params)
        if data is None:
            return cls()  # type: ignore[call-arg]  # as Ninja does: no body, the defaults
        data = cls._map_data_paths(data)
        return cls.model_validate_json(json.dumps(data), strict=True, context={"request": request})


class StrictJsonBody(Body):  # type: ignore[misc]  # as Ninja's own Param classes
    _model = StrictJsonBodyModel

    @classmethod
    def _param_source(cls) -> str:
        return "body"


if TYPE_CHECKING:  # what type checkers see: the annotated schema itself
    from typing import Annotated as JsonBody
else:
    JsonBody = ParamShortcut(lambda **kwargs: StrictJsonBody(..., **kwargs))


class BodyIn(BaseModel):
    """The base of every request body's schema (and of the models nested in one): a plain
    pydantic model. Ninja's ``Schema`` wraps its input for attribute access, and pydantic then
    validates the wrapped object as Python, where strict mode refuses a date's string."""
