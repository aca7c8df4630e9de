from django.urls import include, path

from . import auth_views, home, patients

app_name = "web"
urlpatterns = [
    path("", home.home, name="home"),
    path("login", auth_views.login_view, name="login"),
    path("login/code", auth_views.login_code, name="login_code"),
    path("logout", auth_views.logout_view, name="logout"),
    path("account", auth_views.account, name="account"),
    path("account/mfa", auth_views.mfa_setup, name="mfa_setup"),
    path("patients", patients.search, name="patients"),
    path("patients/new", patients.register, name="patient_new"),
    path("patients/break-glass", patients.break_glass, name="break_glass"),
    path("patients/<uuid:patient_id>", patients.patient, name="patient"),
    path("patients/<uuid:patient_id>/edit", patients.edit, name="patient_edit"),
    path("patients/<uuid:patient_id>/consents", patients.consent, name="patient_consent"),
    path("patients/<uuid:patient_id>/consents/<uuid:consent_id>/revoke", patients.consent_revoke,
         name="patient_consent_revoke"),
    path("patients/<uuid:patient_id>/care-team", patients.care_team_add, name="patient_care_team"),
    path("patients/<uuid:patient_id>/qr", patients.qr_issue, name="patient_qr"),
    path("patients/<uuid:patient_id>/qr/revoke", patients.qr_revoke, name="patient_qr_revoke"),
    path("c/<str:token>", patients.check_in, name="check_in"),
    path("me/access-log", home.access_log, name="access_log"),
    path("network/", include("medunion.web.coordinator.urls")),
]
