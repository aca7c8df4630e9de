"""What keeps the open case page live cheaply: the session remembers which cases it was shown, so
a poll that finds nothing new answers 204 after one indexed query, without building the actor,
checking the policy again or writing the session; and a poll is not the user's activity, so it
does not hold the idle timeout open.

A grant only lets a poll say "nothing changed" about a case this sign-in was shown (after
``access_consult`` let it in). Anything new is loaded through the policy and the audit as before:
a clinician who has lost the case meanwhile gets 404 at the next change, never its content.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url

from medunion.core import clock

# How often an open case page asks for news. A message waits for the next poll (0 to this many
# seconds, evenly) plus that poll's own time, so 3 s could not show 95 % of messages within 3 s;
# 2 s does with room for a slow poll (benchmarks/live_updates.py), at 1.5 times the polls of 3 s.
POLL_SECONDS = 2
GRANTS = "live_cases"
GRANTS_MAX = 64  # the cases a session remembers (the oldest is forgotten: its page polls the full way)
# The idle timeout is renewed at most once a minute: a page view within a minute of the last
# renewal leaves an unchanged session unwritten, so a page costs one write transaction (its
# audit row), not two. The timeout then ends between IDLE - 60 s and IDLE after the last request.
RENEW_SECONDS = 60
RENEWED = "_renewed_at"


def grant(request: HttpRequest, consult_id: Any) -> None:
    """Remember that this session was shown the case (call after ``access_consult``)."""
    key = str(consult_id)
    grants = list(request.session.get(GRANTS, ()))
    if grants and grants[-1] == key or key in grants and getattr(request, "passive_session", False):
        return  # a poll does not write the session to reorder it
    if key in grants:
        grants.remove(key)
    request.session[GRANTS] = [*grants[-(GRANTS_MAX - 1):], key]


def granted(request: HttpRequest, consult_id: Any) -> bool:
    return str(consult_id) in request.session.get(GRANTS, ())


def passive(request: HttpRequest) -> None:
    """This request is the page polling, not the user: it does not renew the session's idle time
    nor write the session (unless it changed something in it)."""
    request.passive_session = True  # type: ignore[attr-defined]


def signed_out(request: HttpRequest) -> HttpResponseBase:
    """A poll whose sign-in has ended (the idle timeout, a sign-out elsewhere): htmx takes the
    whole page to the sign-in, which brings the user back to the case (not the sign-in form
    swapped into the page); anything else is redirected as usual."""
    back = request.htmx.current_url_abs_path if getattr(request, "htmx", None) else None  # type: ignore[attr-defined]
    if back is None:
        return redirect_to_login(request.get_full_path())
    target = redirect_to_login(back)["Location"]
    return HttpResponse(status=204, headers={"HX-Redirect": target or resolve_url(settings.LOGIN_URL)})


def renewed_at_sign_in(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """A sign-in starts the idle time afresh (its session is saved with a new expiry)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[RENEWED] = clock.now().timestamp()


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, except that an unchanged session is left alone (not written) on a passive request
    (``passive``) and within ``RENEW_SECONDS`` of its last renewal. ``SESSION_SAVE_EVERY_REQUEST``
    makes every request of the user renew the idle timeout: an open page polling every few seconds
    would otherwise never time out, and every page view would write the session row in a write
    transaction of its own (on SQLite one writer at a time)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return super().process_response(request, response)  # type: ignore[no-any-return]
        now = clock.now().timestamp()
        if not session.modified and (getattr(request, "passive_session", False)
                                     or 0 <= now - session.get(RENEWED, float("-inf")) < RENEW_SECONDS):
            if session.accessed:
                from django.utils.cache import patch_vary_headers

                patch_vary_headers(response, ("Cookie",))
            return response
        session[RENEWED] = now  # saved by Django's middleware, with the new expiry
        return super().process_response(request, response)  # type: ignore[no-any-return]
