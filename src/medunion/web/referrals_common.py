"""What the referral pages share: the timeline in words, destination choices, the refusal for a
missing credential."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from medunion.access.actor import Actor
from medunion.referrals.models import AdmitKind, EntryKind, GreenPlace, TaskKind
from medunion.referrals.queries import Destination
from medunion.referrals.states import State


def _when(value: str) -> str:
    at = parse_datetime(value) if value else None
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""


def entry_text(e: Any) -> str:
    """A timeline entry in words (events are stored as codes and details, and said in the
    reader's language)."""
    d = e.detail or {}
    if e.kind == EntryKind.REHAB_PLAN:
        steps = [f"{x.get('due_on', '')} · {TaskKind(x['kind']).label if x.get('kind') in TaskKind.values else ''}"
                 f" · {x.get('description', '')}" for x in d.get("plan", [])]
        return _("Rehabilitation plan:") + "\n" + "\n".join(steps)
    if e.kind != EntryKind.SYSTEM:
        return str(e.body)
    ev = e.event
    patient = e.audience == "patient"
    if ev == "create":
        if patient:
            return _("You were referred to %(organisation)s %(department)s. You will be told when they accept.") % {
                "organisation": d.get("organisation", ""), "department": d.get("department", "")}
        place = GreenPlace(d["green_place"]).label if d.get("green_place") in GreenPlace.values else ""
        return _("Referral sent.") + (" " + _("Green channel: a reserved %(place)s is held.") % {"place": place}
                                     if d.get("green_channel") else "")
    if ev == "accept":
        if patient:
            kind = AdmitKind(d["admit_kind"]).label if d.get("admit_kind") in AdmitKind.values else ""
            text = _("Accepted by %(organisation)s (%(kind)s). Come on %(when)s to: %(location)s.") % {
                "organisation": d.get("organisation", ""), "kind": kind, "when": _when(d.get("appointment_at", "")),
                "location": d.get("location", "")}
            return text + ("\n" + _("Bring: %(bring)s") % {"bring": d["bring"]} if d.get("bring") else "")
        return _("Accepted.") + (f"\n{e.body}" if e.body else "")
    texts = {
        "decline": (_("Declined."), _("The receiving hospital could not take the referral. Your doctor will "
                                       "advise you.")),
        "redirect": (_("Redirected."), _("Your referral was passed on to %(organisation)s.")),
        "cancel": (_("Cancelled by the referring clinician."), _("Your referral was cancelled.")),
        "check_in": (_("The patient was checked in."), _("You were checked in at %(organisation)s.")),
        "return_outcome": (_("Outcome returned."), _("Your treatment summary went back to your doctor.")),
        "complete": (_("Loop closed."), _("Your referral is complete.")),
        "reopen": (_("The automatic close was undone."), ""),
        "escalate": (_("No answer in time: escalated to the coordinators."), ""),
        "outcome_missing": (_("The outcome has not come back in time."), ""),
        "follow_up_done": (_("Follow-up done: %(description)s"), ""),
        "follow_up_problem": (_("Follow-up found a problem: %(description)s"), ""),
    }
    clinician, for_patient = texts.get(ev, ("", ""))
    text = (for_patient if patient else clinician) % {"organisation": d.get("organisation", ""),
                                                      "description": d.get("description", "")}
    if ev == "redirect" and not patient:
        to = d.get("to_place") or {}
        text += " → " + " · ".join(x for x in (to.get("organisation"), to.get("department")) if x)
    if ev == "complete" and d.get("automatic") and not patient:
        text = _("Loop closed automatically.")
    if e.body and ev not in ("accept",):
        text += f"\n{e.body}"
    return text


def state_label(state: str) -> str:
    return str(State(state).label) if state in State.values else state


def destination_choices(dests: list[Destination], *, green: bool = True) -> list[tuple[str, Any]]:
    """One choice per department (``org/department``), or per organisation when it lists none;
    green-channel places free now are shown in the label."""
    out: list[tuple[str, Any]] = []
    for d in dests:
        if not d.departments:
            out.append((str(d.organisation.pk), d.organisation.name))
            continue
        options = []
        for dept in d.departments:
            a = d.availability.get(dept.pk)
            label = f"{d.organisation.name} · {dept.name}"
            if green and a is not None and (a.beds_reserved or a.slots_reserved):
                label += " · " + _("green channel: %(beds)d beds, %(slots)d slots free") % {
                    "beds": a.beds_free, "slots": a.slots_free}
            options.append((f"{d.organisation.pk}/{dept.pk}", label))
        out.append((d.organisation.name, options))
    return out


def split_destination(value: str) -> tuple[str, str]:
    org, _sep, dept = (value or "").partition("/")
    return org, dept


def privilege_refusal(actor: Actor) -> dict[str, Any] | None:
    """None when the clinician may transfer patients in one of their consortia; else what is
    missing (for the consortium closest to having it) and how to get it."""
    from medunion.network.queries import privilege_status

    best = None
    for consortium_id in sorted(actor.consortium_ids):
        status = privilege_status(actor.practitioner_id, consortium_id, "transfer_patients")
        if status.granted:
            return None
        if best is None or len(status.missing) < len(best.missing):
            best = status
    names = {"training": _("Tiered-referral training"), "exam": _("Tiered-referral exam"),
             "licence": _("Valid practising licence")}
    missing = best.missing if best else ["training", "exam", "licence"]
    help_ = best.explain() if best else []
    return {"missing": [(m, names[m], h) for m, h in zip(missing, help_ or [""] * len(missing), strict=False)]}
