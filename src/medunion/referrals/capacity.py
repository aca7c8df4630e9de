"""The green channel's reserved places: what a department keeps for urgent upward referrals
(``Department.green_channel_beds`` / ``_slots``, set by coordinators) and how many live
referrals hold now (``…_in_use``).

A green-channel referral holds one place from sending until the place is no longer needed: it
goes back when the referral is declined, redirected elsewhere or cancelled, when a slot's patient
arrives (the slot is used), and when a bed's patient is discharged (the outcome comes back).
Taking a place is one conditional UPDATE (``network.actions.take_green_place``), so however
many clinicians send at once the department never goes over what it reserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from medunion.network.actions import release_green_place, take_green_place
from medunion.network.models import Department

from .models import GreenPlace, Referral
from .validation import GreenChannelFull


@dataclass(frozen=True)
class Availability:
    department_id: Any
    beds_reserved: int
    beds_in_use: int
    slots_reserved: int
    slots_in_use: int

    @property
    def beds_free(self) -> int:
        return max(0, self.beds_reserved - self.beds_in_use)

    @property
    def slots_free(self) -> int:
        return max(0, self.slots_reserved - self.slots_in_use)

    def free(self, place: str) -> int:
        return self.beds_free if place == GreenPlace.BED else self.slots_free

    def as_dict(self) -> dict[str, Any]:
        return {"department_id": str(self.department_id), "beds_reserved": self.beds_reserved,
                "beds_in_use": self.beds_in_use, "beds_free": self.beds_free,
                "slots_reserved": self.slots_reserved, "slots_in_use": self.slots_in_use,
                "slots_free": self.slots_free}


COLUMNS = ("pk", "green_channel_beds", "green_channel_beds_in_use", "green_channel_slots",
           "green_channel_slots_in_use")


def availability(department_ids: list[Any]) -> dict[Any, Availability]:
    """Live availability of these departments (one query)."""
    rows = Department.objects.filter(pk__in=department_ids).values_list(*COLUMNS)
    return {r[0]: Availability(*r) for r in rows}


def full_message(department: Department, place: str) -> Any:
    reserved = department.green_channel_beds if place == GreenPlace.BED else department.green_channel_slots
    if not reserved:
        return _("%(department)s keeps no green-channel %(place)s.") % {
            "department": department, "place": GreenPlace(place).label}
    return _("The green channel of %(department)s is full: all %(n)d reserved %(place)s places are taken. "
             "Send without the green channel, or choose another department.") % {
        "department": department, "n": reserved, "place": GreenPlace(place).label}


def hold(referral_or_department: Any, place: str) -> None:
    """Take a reserved place or raise :class:`GreenChannelFull` (nothing else changes)."""
    department = referral_or_department.target_department if isinstance(referral_or_department, Referral) \
        else referral_or_department
    if department is None or not take_green_place(department.pk, place):
        raise GreenChannelFull(full_message(department, place) if department is not None
                               else _("Choose a department: the green channel reserves places per department."),
                               field="green_channel")


def give_back(referral: Referral) -> dict[str, Any]:
    """The place this referral holds goes back (no-op if it holds none). Returns the change for
    the referral's row."""
    if not referral.green_held or referral.target_department_id is None:
        return {}
    release_green_place(referral.target_department_id, referral.green_place)
    return {"green_held": False}
