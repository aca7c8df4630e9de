"""URLs of remote diagnosis (included by web/urls.py, in the ``web`` namespace): the requesting
side, the viewer and the patient's reports. The reading side's are in ``reading_urls``."""

from django.urls import path

from . import diagnostics, diagnostics_exam, diagnostics_patient, diagnostics_viewer

X = "examinations/<uuid:examination_id>"

urlpatterns: list = [
    path("examinations", diagnostics.examinations_page, name="examinations"),
    path("examinations/new", diagnostics.new_examination, name="examination_new"),
    path(X, diagnostics_exam.examination_page, name="examination"),
    path(X + "/recognise", diagnostics.use_report, name="examination_recognise"),
    path(X + "/upload", diagnostics_exam.upload, name="examination_upload"),
    path(X + "/received", diagnostics_exam.received, name="examination_received"),
    path(X + "/submit", diagnostics_exam.submit, name="examination_submit"),
    path(X + "/cancel", diagnostics_exam.cancel, name="examination_cancel"),
    path(X + "/claim", diagnostics_exam.claim, name="examination_claim"),
    path(X + "/critical/<uuid:finding_id>/acknowledge", diagnostics_exam.acknowledge,
         name="examination_acknowledge"),
    path(X + "/files/<uuid:attachment_id>", diagnostics_exam.attachment, name="examination_file"),
    path(X + "/viewer", diagnostics_viewer.viewer, name="examination_viewer"),
    path(X + "/frames/<uuid:instance_id>.png", diagnostics_viewer.frame, name="examination_frame"),
    path("me/reports", diagnostics_patient.my_reports, name="my_reports"),
    path("me/reports/<uuid:examination_id>", diagnostics_patient.my_report, name="my_report"),
]
