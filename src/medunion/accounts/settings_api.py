"""Platform settings (/api/v1/settings): the system administrator's work.

Separation of duties (MLPS level 3): only the system administrator manages settings; for
everyone else, the security and audit administrators included, this area answers 404.
"""

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from medunion.access.actor import Actor
from medunion.access.policy import Action, can
from medunion.api import api_actor, problems
from medunion.core.errors import NotFound
from medunion.core.json_body import BodyIn, JsonBody

from . import actions
from .settings_registry import SETTINGS, SettingSpec, effective, spec_of, stored_values

router = Router(tags=["settings"])


def _sysadmin(request: HttpRequest) -> Actor:
    actor = api_actor(request)
    if not can(actor, Action.MANAGE_SETTINGS):
        raise NotFound()
    return actor


class SettingOut(Schema):
    key: str
    label: str
    help: str
    type: Literal["integer", "string"]
    value: int | str
    default: int | str
    stored: bool
    minimum: int | None
    maximum: int | None
    updated_at: dt.datetime | None


class SettingIn(BodyIn):
    value: Any = Field(..., description="A whole number or text, as the setting's type says; validated "
                                        "against its range or pattern")


def _out(spec: SettingSpec, stored: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    raw, updated_at = stored.get(spec.key, (None, None))
    return {"key": spec.key, "label": str(spec.label), "help": str(spec.help), "type": spec.type_name,
            "value": effective(spec, raw), "default": spec.default(), "stored": raw is not None,
            "minimum": spec.minimum, "maximum": spec.maximum, "updated_at": updated_at}


@router.get("", response=list[SettingOut], summary="Platform settings (system administrator)",
            openapi_extra=problems(404))
def list_settings(request: HttpRequest) -> Any:
    _sysadmin(request)
    stored = stored_values()
    return [_out(spec, stored) for spec in SETTINGS.values()]


@router.get("/{key}", response=SettingOut, summary="One platform setting", openapi_extra=problems(404))
def get_setting(request: HttpRequest, key: str) -> Any:
    _sysadmin(request)
    return _out(spec_of(key), stored_values())


@router.put("/{key}", response=SettingOut, summary="Change a platform setting (validated, audited)",
            openapi_extra=problems(404))
def put_setting(request: HttpRequest, key: str, payload: JsonBody[SettingIn]) -> Any:
    actor = _sysadmin(request)
    actions.set_platform_setting(acting=actor, key=key, value=payload.value)
    return _out(spec_of(key), stored_values())


@router.delete("/{key}", response=SettingOut, summary="Return a platform setting to its default (audited)",
               openapi_extra=problems(404))
def reset_setting(request: HttpRequest, key: str) -> Any:
    actor = _sysadmin(request)
    actions.reset_platform_setting(acting=actor, key=key)
    return _out(spec_of(key), stored_values())
