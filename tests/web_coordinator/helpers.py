"""Shared helpers of the coordinator page tests."""

from __future__ import annotations

from django.urls import reverse

from medunion.access.actor import system_actor
from medunion.accounts.actions import create_account
from medunion.network import actions as net
from tests.world import PASSWORD, World

NS = "web:coord:"


def url(name: str, *args) -> str:
    return reverse(NS + name, args=args)


def practitioner_id(world: World, persona: str):
    return world.users[persona].practitioner_id


def make_team(world: World, name: str = "心内科专科组", kind: str = "specialty"):
    return net.create_team(acting=system_actor("tests"), consortium_id=world.consortium.pk, name=name, kind=kind,
                           specialty="cardiology")


def other_coordinator(world: World):
    """A coordinator of the other consortium (OTHER), with one practitioner there already (outsider)."""
    user = create_account(acting=system_actor("tests"), username="coordinator_other", password=PASSWORD,
                          role="coordinator", display_name="外县协调员",
                          consortium_ids=[world.other_consortium.pk])
    world.users["coordinator_other"] = user
    return user
