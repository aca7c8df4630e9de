"""The platform settings the system administrator manages, defined in one place.

Each setting has a type and a range, a default (the Django setting, i.e. the environment,
where there is one), and a place in the platform that reads it through :func:`platform_setting`:

- ``break_glass_minutes``: how long a break-the-glass grant lasts (access.actions);
- ``api_token_hours``: how long a new API bearer token lives (accounts.actions.issue_token);
- ``support_phone``: the support line shown to a locked-out user (accounts.lockout).

A value stored in the database wins over the default; a stored value that no longer passes
validation (say, a range was narrowed) is ignored in favour of the default and logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from medunion.core.errors import NotFound, ValidationFailed

log = logging.getLogger(__name__)

PHONE = re.compile(r"^\+?[0-9][0-9 -]{2,30}$")


@dataclass(frozen=True)
class SettingSpec:
    key: str
    kind: type
    label: str | Promise
    help: str | Promise
    default: Callable[[], Any]
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 200
    pattern: re.Pattern[str] | None = None
    pattern_message: str | Promise = ""

    @property
    def type_name(self) -> str:
        return "integer" if self.kind is int else "string"

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw`` (as given by a client or as stored), or a field error."""
        if self.kind is int:
            return self._parse_int(raw)
        if not isinstance(raw, str):
            raise ValidationFailed(errors={"value": [str(_("Enter text."))]})
        value = raw.strip()
        if len(value) > self.max_length:
            raise ValidationFailed(errors={"value": [str(_("At most %(n)d characters.") % {"n": self.max_length})]})
        if value and self.pattern is not None and not self.pattern.match(value):
            raise ValidationFailed(errors={"value": [str(self.pattern_message)]})
        return value

    def _parse_int(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise ValidationFailed(errors={"value": [str(_("Enter a whole number."))]})
        try:
            value = int(raw.strip()) if isinstance(raw, str) else raw
        except ValueError:
            raise ValidationFailed(errors={"value": [str(_("Enter a whole number."))]}) from None
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise ValidationFailed(errors={"value": [str(_("Enter a number from %(min)d to %(max)d.") % {
                "min": self.minimum, "max": self.maximum})]})
        return value

    def to_text(self, value: Any) -> str:
        return str(value)


SETTINGS: dict[str, SettingSpec] = {spec.key: spec for spec in (
    SettingSpec(
        key="break_glass_minutes", kind=int, minimum=5, maximum=1440,
        label=_("Break-the-glass duration (minutes)"),
        help=_("How long emergency access to a patient outside the clinician's relationships lasts."),
        default=lambda: int(settings.MEDUNION_BREAK_GLASS_MINUTES)),
    SettingSpec(
        key="api_token_hours", kind=int, minimum=1, maximum=720,
        label=_("API token lifetime (hours)"),
        help=_("How long a newly issued API bearer token stays valid. Tokens issued earlier keep their expiry."),
        default=lambda: int(settings.MEDUNION_API_TOKEN_HOURS)),
    SettingSpec(
        key="support_phone", kind=str, max_length=32, pattern=PHONE,
        pattern_message=_("Enter a phone number: digits, spaces and hyphens, optionally starting with +."),
        label=_("Support phone"),
        help=_("The number a user who is locked out or needs help is asked to call. Empty: none shown."),
        default=lambda: ""),
)}


def spec_of(key: str) -> SettingSpec:
    spec = SETTINGS.get(key)
    if spec is None:
        raise NotFound(_("There is no platform setting with this name."))
    return spec


def stored_values() -> dict[str, tuple[str, Any]]:
    """The stored rows: key → (raw value, updated_at)."""
    from .models import PlatformSetting

    return {row.key: (row.value, row.updated_at) for row in PlatformSetting.objects.filter(key__in=list(SETTINGS))}


def effective(spec: SettingSpec, raw: str | None) -> Any:
    if raw is None:
        return spec.default()
    try:
        return spec.parse(raw)
    except ValidationFailed:
        log.warning("platform setting %s has an invalid stored value; using the default", spec.key)
        return spec.default()


def platform_setting(key: str) -> Any:
    """The value of a known platform setting: the stored one, else the Django setting's."""
    from .models import PlatformSetting

    spec = spec_of(key)
    raw = PlatformSetting.objects.filter(key=key).values_list("value", flat=True).first()
    return effective(spec, raw)
