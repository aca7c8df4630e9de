from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "medunion.fhir"
    label = "fhir"
