"""What the coordinator pages share: who may open them and the consortia they manage.

The generic helpers (guarded, apply_error, paginate, query_without_page) live in web.common."""

from __future__ import annotations

from typing import Any

from medunion.access.actor import Actor
from medunion.access.policy import Action, can, visible_consortia
from medunion.web.common import apply_error, guarded, paginate, query_without_page

__all__ = ["apply_error", "audit_page", "consortium_choices", "coordinator_page", "guarded", "is_network_manager",
           "my_consortia", "paginate", "query_without_page", "review_page"]

ConsortiumChoices = list[tuple[str, str]]


def is_network_manager(actor: Actor) -> bool:
    return actor.is_coordinator and bool(actor.coordinated_ids) and can(actor, Action.MANAGE_NETWORK)


coordinator_page = guarded(is_network_manager)
audit_page = guarded(lambda a: can(a, Action.SEARCH_AUDIT))
review_page = guarded(lambda a: can(a, Action.REVIEW_BREAK_GLASS))


def my_consortia(actor: Actor) -> Any:
    """The consortia this coordinator manages (visible and coordinated), lead organisation joined."""
    return (visible_consortia(actor).filter(pk__in=list(actor.coordinated_ids))
            .select_related("lead", "lead__region").order_by("code"))


def consortium_choices(actor: Actor) -> ConsortiumChoices:
    return [(str(c.pk), f"{c.name} ({c.code})") for c in my_consortia(actor)]
