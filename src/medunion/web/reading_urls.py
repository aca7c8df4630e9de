"""URLs of remote diagnosis, the reading side (included by web/urls.py, in the ``web`` namespace):
the hub's worklist, claiming, the report editor and the steps on a report."""

from django.urls import path

from . import reading, reading_report

urlpatterns = [
    path("reading", reading.worklist, name="reading"),
    path("reading/<uuid:examination_id>/claim", reading.claim, name="reading_claim"),
    path("examinations/<uuid:examination_id>/report", reading_report.report_page, name="exam_report"),
    path("examinations/<uuid:examination_id>/report/draft", reading_report.save_draft, name="exam_report_draft"),
    path("examinations/<uuid:examination_id>/report/sign", reading_report.sign, name="exam_report_sign"),
    path("examinations/<uuid:examination_id>/report/release", reading_report.release, name="exam_report_release"),
    path("examinations/<uuid:examination_id>/report/addendum", reading_report.addendum,
         name="exam_report_addendum"),
    path("examinations/<uuid:examination_id>/report/amend", reading_report.amend, name="exam_report_amend"),
    path("examinations/<uuid:examination_id>/report/second-read", reading_report.second_read,
         name="exam_report_second_read"),
]
