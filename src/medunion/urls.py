from django.contrib import admin
from django.urls import include, path

from medunion.api import api
from medunion.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("fhir/", include("medunion.fhir.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("medunion.web.urls")),
]
