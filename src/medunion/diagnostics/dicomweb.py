"""A PACS as the DICOM archive: instances stored by STOW-RS, found by QIDO-RS and fetched back
by WADO-RS (DICOMweb, DICOM PS3.18), on an Orthanc server with its DICOMweb plugin.

The bytes live at the PACS; MedUnion keeps the instance's row (``Instance``) with its three
UIDs, which are what WADO-RS retrieves it by. Every failure to reach the PACS (refused
connection, timeout, an HTTP error, a malformed answer) is ``Unavailable`` (503) with a
translated message, logged without patient data (no names, no UIDs, no URLs).

Storing is idempotent: an instance the PACS holds already (the same SOP Instance UID in the same
study and series, of the same patient ID) is not sent again. Orthanc would otherwise keep a second
copy under the same SOP Instance UID when the patient ID differs, after which WADO-RS can no longer
retrieve either; such a clash is refused as a ``Conflict`` instead.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from django.utils.translation import gettext_lazy as _

from medunion.access.actor import Actor
from medunion.core.errors import Conflict, Unavailable

from .archive import Stored

log = logging.getLogger(__name__)

UNREACHABLE = _("The image archive (PACS) cannot be reached; try again.")
REFUSED = _("The image archive (PACS) did not accept this image; try again, or ask your administrator.")
CLASH = _("The image archive (PACS) holds another patient's or study's image under this file's "
          "identifier (SOP Instance UID); the file cannot be stored.")

# (connect, read) in seconds: a PACS on the hospital network answers at once or not at all;
# storing a large instance or a busy archive may take longer to answer.
TIMEOUT = (5.0, 60.0)


def _text(element: dict[str, Any] | None) -> str:
    """The first value of a DICOM JSON element as text ("" when absent)."""
    values = (element or {}).get("Value") or [""]
    first = values[0]
    if isinstance(first, dict):  # a person name
        first = first.get("Alphabetic", "")
    return str(first)


_STUDY, _SERIES, _PATIENT_ID = "0020000D", "0020000E", "00100020"


class DicomWebArchive:
    """The ``orthanc`` archive: any DICOMweb server at ``url`` (its DICOMweb root, e.g.
    ``http://pacs.example:8042/dicom-web``), with HTTP basic authentication when ``user`` is
    given."""

    name = "orthanc"

    def __init__(self, url: str, user: str = "", password: str = "", *,
                 timeout: tuple[float, float] = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self.password = password
        self.timeout = timeout
        self._local = threading.local()  # one HTTP session per thread

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            from dicomweb_client.api import DICOMwebClient

            session = requests.Session()
            if self.user:
                session.auth = (self.user, self.password)
            client = DICOMwebClient(self.url, session=session, timeout=self.timeout, permissive_uid=True)
            # A busy PACS (429, 503, 504) is asked again twice, 0.2 s then 0.4 s later.
            client.set_http_retry_params(retry=True, max_attempts=3, wait_exponential_multiplier=200)
            self._local.client = client
        return client

    @contextmanager
    def _reaching(self, operation: str) -> Iterator[None]:
        from retrying import RetryError

        try:
            yield
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            log.warning("PACS %s failed: HTTP %s", operation, status)
            raise Unavailable(UNREACHABLE, reason="pacs_http_error") from exc
        except (requests.RequestException, RetryError) as exc:
            log.warning("PACS %s failed: %s", operation, type(exc).__name__)
            raise Unavailable(UNREACHABLE, reason="pacs_unreachable") from exc
        except (ValueError, KeyError) as exc:  # an answer that is not DICOMweb
            log.warning("PACS %s failed: malformed answer (%s)", operation, type(exc).__name__)
            raise Unavailable(UNREACHABLE, reason="pacs_bad_answer") from exc

    # --- the Archive protocol ------------------------------------------------------------------

    def put(self, *, acting: Actor, patient_id: Any, data: bytes, filename: str, meta: dict[str, Any]) -> Stored:
        """STOW-RS one instance, unless the PACS holds it already (checked by QIDO-RS first)."""
        from pydicom import dcmread

        dataset = dcmread(io.BytesIO(data))
        sop = str(meta.get("sop_instance_uid") or dataset.SOPInstanceUID)
        study = str(meta.get("study_instance_uid") or dataset.StudyInstanceUID)
        series = str(meta.get("series_instance_uid") or dataset.SeriesInstanceUID)
        dicom_patient_id = str(dataset.get("PatientID", "") or "")
        client = self._client()
        with self._reaching("search"):
            held = client.search_for_instances(search_filters={"SOPInstanceUID": sop},
                                               fields=["StudyInstanceUID", "SeriesInstanceUID", "PatientID"])
        same = [h for h in held if (_text(h.get(_STUDY)), _text(h.get(_SERIES)), _text(h.get(_PATIENT_ID)))
                == (study, series, dicom_patient_id)]
        if len(same) != len(held):
            log.warning("PACS store refused: the SOP Instance UID is held for another study or patient")
            raise Conflict(CLASH, field="file", reason="pacs_uid_clash")
        if same:
            return Stored(archive=self.name)
        with self._reaching("store"):
            answer = client.store_instances([dataset], study_instance_uid=study)
        failed = list(answer.get("FailedSOPSequence") or [])
        stored = {str(item.get("ReferencedSOPInstanceUID", "")) for item in answer.get("ReferencedSOPSequence") or []}
        if failed or sop not in stored:
            reasons = sorted({str(item.get("FailureReason", "?")) for item in failed})
            log.warning("PACS store refused the instance (failure reasons: %s)", ", ".join(reasons) or "none given")
            raise Unavailable(REFUSED, reason="pacs_refused")
        return Stored(archive=self.name)

    def get(self, instance: Any) -> bytes:
        """WADO-RS the instance as stored (its own transfer syntax), as a DICOM Part 10 file."""
        from pydicom import dcmwrite

        series = instance.series
        with self._reaching("retrieve"):
            dataset = self._client().retrieve_instance(series.study.study_instance_uid, series.series_instance_uid,
                                                       instance.sop_instance_uid,
                                                       media_types=(("application/dicom", "*"),))
        out = io.BytesIO()
        dcmwrite(out, dataset, enforce_file_format=False)
        return out.getvalue()

    # --- searching ---------------------------------------------------------------------------------

    def find_study(self, study_instance_uid: str) -> Any:
        """QIDO-RS: the PACS's description of a study (a pydicom ``Dataset`` with its instance
        count, ``NumberOfStudyRelatedInstances``), or ``None`` when it holds no such study."""
        from pydicom import Dataset

        with self._reaching("search"):
            found = self._client().search_for_studies(search_filters={"StudyInstanceUID": study_instance_uid},
                                                      fields=["NumberOfStudyRelatedInstances",
                                                              "NumberOfStudyRelatedSeries"], limit=2)
        matches = [Dataset.from_json(item) for item in found]
        return next((d for d in matches if str(d.get("StudyInstanceUID", "")) == study_instance_uid), None)
