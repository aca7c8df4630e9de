"""Read side of accounts."""

from __future__ import annotations

from medunion.core import clock

from .models import ApiToken, User


def account_name(user: User) -> str:
    """The name an account list shows. A patient account's name is the patient's, which the
    security administrator has no business reading in bulk: only its first character is shown."""
    name = user.display_name or ""
    if user.role == "patient" and name:
        return name[0] + "＊" * max(len(name) - 1, 1)
    return name


def live_tokens(user: User, limit: int = 20) -> list[ApiToken]:
    """The account's API tokens that still work, newest first (never their secrets)."""
    return list(ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=clock.now())
                .order_by("-created_at")[:limit])
