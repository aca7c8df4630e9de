from django.urls import include, path

from medunion.api import api
from medunion.core.views import healthz
from medunion.web.admin_site import site as admin_site

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("fhir/", include("medunion.fhir.urls")),
    path("admin/", admin_site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("medunion.web.urls")),
]

# An error outside a view: a 503 in the surface's format when the database is out of reach.
handler400 = "medunion.core.middleware.bad_request"
handler500 = "medunion.core.middleware.server_error"
