"""The least a WSGI application can do, for ``fhir_throughput.py --bare``: what gunicorn and the
socket cost a request by themselves."""

from collections.abc import Callable, Iterable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "16")])
    return [b'{"status": "ok"}']
