"""The coordinator's back office, mounted at /network/."""

from django.urls import path

from . import audit, break_glass, consults, diagnostics, imports, network, practitioners, referrals, teams

app_name = "coord"
urlpatterns = [
    path("", network.network, name="network"),
    path("organisations/new", network.organisation_new, name="organisation_new"),
    path("organisations/<uuid:org_id>", network.organisation, name="organisation"),
    path("practitioners/", practitioners.practitioners, name="practitioners"),
    path("practitioners/new", practitioners.practitioner_new, name="practitioner_new"),
    path("practitioners/<uuid:practitioner_id>", practitioners.practitioner, name="practitioner"),
    path("teams/", teams.teams, name="teams"),
    path("teams/<uuid:team_id>", teams.team, name="team"),
    path("import/", imports.import_upload, name="import"),
    path("import/<uuid:job_id>", imports.import_job, name="import_job"),
    path("import/<uuid:job_id>/status", imports.import_status, name="import_status"),
    path("audit", audit.audit, name="audit"),
    path("audit/export", audit.audit_export, name="audit_export"),
    path("audit/verify", audit.audit_verify, name="audit_verify"),
    path("break-glass/", break_glass.break_glass, name="break_glass"),
    path("break-glass/<uuid:grant_id>/review", break_glass.break_glass_review, name="break_glass_review"),
    path("consults/overdue", consults.overdue, name="consult_overdue"),
    path("consults/targets", consults.targets, name="consult_targets"),
    path("referrals", referrals.figures, name="referral_figures"),
    path("referrals/capacity", referrals.capacity, name="referral_capacity"),
    path("referrals/capacity/<uuid:department_id>", referrals.capacity_save, name="referral_capacity_save"),
    path("referrals/clock/<uuid:consortium_id>", referrals.clock_save, name="referral_clock_save"),
    path("diagnostics", diagnostics.figures, name="diagnostic_figures"),
    path("diagnostics/routes", diagnostics.routes, name="reading_routes"),
    path("diagnostics/routes/<uuid:consortium_id>", diagnostics.route_save, name="reading_route_save"),
]
