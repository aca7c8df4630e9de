"""Read side of accounts."""

from __future__ import annotations

from .models import User


def account_name(user: User) -> str:
    """The name an account list shows. A patient account's name is the patient's, which the
    security administrator has no business reading in bulk: only its first character is shown."""
    name = user.display_name or ""
    if user.role == "patient" and name:
        return name[0] + "＊" * max(len(name) - 1, 1)
    return name
