"""The web server's access log never holds what a search puts in its query string."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger

from medunion.cli import ACCESS_LOG_FORMAT


def test_the_access_log_line_has_no_query_string_and_no_referer():
    number = "610528197909097078"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/patients?q={number}", "PATH_INFO": "/patients",
               "QUERY_STRING": f"q={number}", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
               "HTTP_REFERER": f"http://127.0.0.1:8000/patients?q={number}&phone=13800000001"}
    response = SimpleNamespace(status="200 OK", sent=1234, headers=[("X-Request-Id", "abc123")])
    logger = Logger(Config())
    line = ACCESS_LOG_FORMAT % logger.atoms(response, [], environ, dt.timedelta(milliseconds=42))
    assert number not in line and "13800000001" not in line
    assert '"GET /patients HTTP/1.1" 200 1234' in line and "rid=abc123" in line
