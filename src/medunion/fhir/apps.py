from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "medunion.fhir"
    label = "fhir"

    def ready(self) -> None:
        from . import handlers  # noqa: F401 - registers the resource types
