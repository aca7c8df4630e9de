"""URLs of remote diagnosis (included by web/urls.py, in the ``web`` namespace)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
