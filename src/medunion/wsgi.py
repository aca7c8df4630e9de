"""WSGI entry point (gunicorn). Refuses to start on development secrets outside debug mode."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medunion.settings")
application = get_wsgi_application()

from medunion.core.checks import assert_safe_to_serve  # noqa: E402

assert_safe_to_serve()

# Load the URLs (every view and API router, with their schemas) now, as the worker starts, not at
# its first request (a second and more, measured on a busy machine).
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
