"""The audit log as FHIR AuditEvent (R4 / R4B shape: type, subtype, action, recorded, outcome,
agent, source, entity)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from medunion.accounts.models import Role
from medunion.audit.models import AuditEvent, Outcome

from .. import codes
from .common import coding, concept, instant, ref


@dataclass(frozen=True)
class AccountLink:
    username: str
    practitioner_id: Any
    patient_id: Any


_REST = coding(codes.AUDIT_EVENT_TYPE, "rest", "Restful Operation")
# verb -> (type, subtype or None, action)
_VERBS: dict[str, tuple[dict[str, Any], dict[str, Any] | None, str]] = {
    "create": (_REST, coding(codes.RESTFUL_INTERACTION, "create", "create"), "C"),
    "read": (_REST, coding(codes.RESTFUL_INTERACTION, "read", "read"), "R"),
    "update": (_REST, coding(codes.RESTFUL_INTERACTION, "update", "update"), "U"),
    "delete": (_REST, coding(codes.RESTFUL_INTERACTION, "delete", "delete"), "D"),
    "search": (_REST, coding(codes.RESTFUL_INTERACTION, "search-type", "search-type"), "E"),
    "execute": (_REST, coding(codes.RESTFUL_INTERACTION, "operation", "operation"), "E"),
    "login": (coding(codes.DICOM, "110114", "User Authentication"), coding(codes.DICOM, "110122", "Login"), "E"),
    "export": (coding(codes.DICOM, "110106", "Export"), None, "R"),
}
_OUTCOMES: dict[str, str] = {Outcome.SUCCESS: "0", Outcome.DENIED: "4", Outcome.FAILURE: "8"}


def _role_label(role: str) -> str:
    try:
        return str(Role(role).label)
    except ValueError:
        return role


def _who(event: AuditEvent, link: AccountLink | None) -> dict[str, Any]:
    display = event.actor_display or event.actor_role
    if link and link.practitioner_id:
        return ref("Practitioner", link.practitioner_id, display)
    if link and link.patient_id:
        return ref("Patient", link.patient_id, display)
    if event.actor_id:
        return {"identifier": {"system": codes.ACCOUNT, "value": str(event.actor_id)}, "display": display}
    return {"display": display}


def _purpose(purpose: str) -> dict[str, Any] | None:
    if not purpose:
        return None
    code = codes.PURPOSE_MAP.get(purpose)
    if code:
        return concept(codes.V3_ACT_REASON, code, text=purpose)
    return concept(codes.CS_PURPOSE, purpose)


def _entities(event: AuditEvent) -> list[dict[str, Any]]:
    details = [{"type": "hash", "valueString": event.hash}]
    if event.request_id:
        details.append({"type": "request-id", "valueString": event.request_id})
    if event.detail:
        details.append({"type": "detail", "valueString": json.dumps(event.detail, ensure_ascii=False,
                                                                    sort_keys=True)})
    fhir_type = codes.OBJECT_TYPES.get(event.object_type)
    is_patient = fhir_type == "Patient"
    if fhir_type and event.object_id:
        what = ref(fhir_type, event.object_id)
    elif event.object_id:
        what = {"identifier": {"system": f"urn:medunion:object:{event.object_type or 'unknown'}",
                               "value": event.object_id}}
    else:
        what = {"display": event.object_type or "MedUnion"}
    entity: dict[str, Any] = {
        "what": what,
        "type": coding(codes.AUDIT_ENTITY_TYPE, "1", "Person") if is_patient
        else coding(codes.AUDIT_ENTITY_TYPE, "2", "System Object"),
        "role": coding(codes.OBJECT_ROLE, "1", "Patient") if is_patient
        else coding(codes.OBJECT_ROLE, "4", "Domain Resource"),
        "detail": details,
    }
    if event.object_type:
        entity["name"] = event.object_type
    out = [entity]
    if event.patient_id and not (is_patient and event.object_id == str(event.patient_id)):
        out.append({"what": ref("Patient", event.patient_id),
                    "type": coding(codes.AUDIT_ENTITY_TYPE, "1", "Person"),
                    "role": coding(codes.OBJECT_ROLE, "1", "Patient")})
    return out


def audit_event(event: AuditEvent, accounts: dict[Any, AccountLink]) -> dict[str, Any]:
    """``accounts`` maps the actors' user ids to their linked records (fetched once per page)."""
    etype, esub, action = _VERBS.get(event.verb, (_REST, None, "E"))
    subtypes = [esub] if esub else []
    subtypes.append(coding(codes.CS_AUDIT_ACTION, event.action, event.action))
    link = accounts.get(event.actor_id) if event.actor_id else None
    agent: dict[str, Any] = {
        "type": concept(codes.CS_ROLE, event.actor_role or "unknown", _role_label(event.actor_role)),
        "who": _who(event, link),
        "requestor": not event.on_behalf_of,
    }
    if link and link.username:
        agent["altId"] = link.username
    if event.actor_display:
        agent["name"] = event.actor_display
    purpose = _purpose(event.purpose)
    if purpose:
        agent["purposeOfUse"] = [purpose]
    agents = [agent]
    if event.on_behalf_of:
        agents.append({"who": {"display": event.on_behalf_of}, "name": event.on_behalf_of, "requestor": True})
    out: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.uid),
        "meta": {"lastUpdated": instant(event.at)},
        "type": etype,
        "subtype": subtypes,
        "action": action,
        "recorded": instant(event.at),
        "outcome": _OUTCOMES.get(event.outcome, "8"),
        "agent": agents,
        "source": {"site": "MedUnion", "observer": {"display": "MedUnion"},
                   "type": [coding(codes.AUDIT_SOURCE_TYPE, "4", "Application Server"),
                            coding(codes.CS_SURFACE, event.surface or "unknown")]},
        "entity": _entities(event),
    }
    if event.outcome == Outcome.DENIED:
        out["outcomeDesc"] = _("Access was refused.")
    elif event.outcome == Outcome.FAILURE:
        out["outcomeDesc"] = _("The action failed.")
    return out
