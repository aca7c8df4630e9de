from django.urls import include, path

from medunion.api import api
from medunion.core.views import healthz
from medunion.web.admin_site import site as admin_site
from medunion.web.auth_views import set_language

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("fhir/", include("medunion.fhir.urls")),
    path("admin/", admin_site.urls),
    # Django's language switch, which also stores a signed-in account's choice for its notices.
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("medunion.web.urls")),
]

# An error outside a view: a 503 in the surface's format when the database is out of reach.
handler400 = "medunion.core.middleware.bad_request"
handler500 = "medunion.core.middleware.server_error"
