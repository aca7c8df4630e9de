"""Whose work each /api/v1 operation is, for the schemathesis runs (the in-suite tests and the
HTTP drill): each operation is called by that persona, so it gets past the 404 that everyone
else receives and what is tested is its validation and its answers.

Personas are named by their part ("asker", "specialist", ...); each run maps them to the user
names of its data (the test world, the demo consortium). Plain data: no Django import.
"""

from __future__ import annotations

# (method or "*", path prefix, persona); the first match wins, so the narrower rows come first.
OWNERS: list[tuple[str, str, str]] = [
    ("*", "/api/v1/accounts/me", "asker"),
    ("*", "/api/v1/accounts", "secadmin"),
    ("*", "/api/v1/settings", "sysadmin"),
    ("*", "/api/v1/audit/verify", "auditadmin"),
    ("*", "/api/v1/audit/export", "auditadmin"),
    ("*", "/api/v1/audit", "coordinator"),
    ("*", "/api/v1/network", "coordinator"),
    ("*", "/api/v1/imports", "coordinator"),
    ("*", "/api/v1/access/break-glass/reviews", "coordinator"),
    ("*", "/api/v1/consults/overdue", "coordinator"),
    ("*", "/api/v1/consults/figures", "coordinator"),
    ("*", "/api/v1/consults/targets", "coordinator"),
    ("*", "/api/v1/referrals/capacity", "coordinator"),
    ("*", "/api/v1/referrals/clock", "coordinator"),
    ("*", "/api/v1/referrals/figures", "coordinator"),
    ("*", "/api/v1/diagnostics/figures", "coordinator"),
    ("*", "/api/v1/reading-routes", "coordinator"),
]

# The steps of a case that are the other side's: the specialist answers a consultation, the
# receiving hospital takes a referral, the reader reports an examination. Matched on the operation
# (method and path template) before OWNERS.
STEP_OWNERS: dict[tuple[str, str], str] = {
    **{("POST", f"/api/v1/consults/{{consult_id}}/{step}"): "specialist"
       for step in ("claim", "decline", "hand-over", "request-info", "answer", "amend-answer", "invitations",
                    "opinions")},
    **{("POST", f"/api/v1/referrals/{{referral_id}}/{step}"): "specialist"
       for step in ("accept", "decline", "redirect", "check-in", "outcome", "complete", "notes")},
    ("POST", "/api/v1/referrals/check-in"): "specialist",
    **{("POST", f"/api/v1/examinations/{{examination_id}}/{step}"): "reader"
       for step in ("claim", "release", "report/sign", "report/addenda", "report/amendments",
                    "report/second-read")},
    ("PUT", "/api/v1/examinations/{examination_id}/report/draft"): "reader",
}


def owner_of(method: str, path: str) -> str:
    """The persona whose work ``method path`` (a path template of the OpenAPI document) is."""
    step = STEP_OWNERS.get((method.upper(), path))
    if step:
        return step
    return next((persona for m, prefix, persona in OWNERS
                 if path.startswith(prefix) and m in ("*", method.upper())), "asker")
