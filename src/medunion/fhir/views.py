from django.http import HttpRequest, JsonResponse


def metadata(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"resourceType": "CapabilityStatement", "status": "draft", "kind": "instance",
                         "fhirVersion": "4.3.0", "format": ["json"], "date": "2026-11-23"},
                        content_type="application/fhir+json")
