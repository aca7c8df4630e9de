"""A real Orthanc PACS on loopback for the tests that run against the DICOMweb archive.

Debian's ``orthanc`` and ``orthanc-dicomweb`` packages (``make test`` installs them) give the
server and its DICOMweb plugin. Each test session (each pytest-xdist worker) starts its own
private server: a generated configuration in a temporary directory, HTTP on a free loopback
port accepting local connections only, with a generated user and password, the DICOM network
server off, the storage and index in the same temporary directory. It is stopped when the
session ends. A missing Orthanc fails the tests that need it: it is never skipped silently.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ORTHANC = os.environ.get("MEDUNION_ORTHANC", "/usr/sbin/Orthanc")
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc/plugins")
DICOMWEB_PLUGIN = "libOrthancDicomWeb.so"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class OrthancServer:
    url: str  # the REST root, http://127.0.0.1:PORT
    user: str
    password: str

    @property
    def dicomweb_url(self) -> str:
        return self.url + "/dicom-web"

    def clear(self) -> None:
        """Delete everything the PACS holds (Orthanc's REST API), so tests do not see each
        other's instances, as each sees a fresh database."""
        import requests

        auth = (self.user, self.password)
        for patient in requests.get(self.url + "/patients", auth=auth, timeout=10).json():
            requests.delete(f"{self.url}/patients/{patient}", auth=auth, timeout=10).raise_for_status()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plugin() -> str:
    for folder in PLUGIN_DIRS:
        path = Path(folder) / DICOMWEB_PLUGIN
        if path.is_file():
            return str(path)
    pytest.fail(f"the Orthanc DICOMweb plugin ({DICOMWEB_PLUGIN}) is not installed; "
                "run `apt-get install orthanc-dicomweb` (make test installs it)", pytrace=False)


def _config(root: Path, http_port: int, dicom_port: int, user: str, password: str) -> dict[str, object]:
    storage = root / "storage"
    storage.mkdir(exist_ok=True)
    return {
        "Name": "MedUnionTests",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {user: password},
        "DicomServerEnabled": False,  # DICOMweb only: nothing listens for DICOM associations
        "DicomPort": dicom_port,
        "Plugins": [_plugin()],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "HttpThreadsCount": 8,
        "ConcurrentJobs": 1,
        "StableAge": 3600,
        "SaveJobs": False,
        "HttpDescribeErrors": True,
    }


def _wait_ready(process: subprocess.Popen[bytes], server: OrthancServer, log: Path) -> str:
    """Wait until ``/system`` answers; an error text when the server died or never answered."""
    import requests

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"Orthanc exited with status {process.returncode}"
        try:
            response = requests.get(server.url + "/system", auth=(server.user, server.password), timeout=2)
            if response.status_code == 200:
                return ""
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return f"Orthanc did not answer on {server.url} within {START_TIMEOUT:.0f} s"


def _die_with_parent() -> None:  # pragma: no cover (runs in the child before exec)
    """Linux: Orthanc gets SIGTERM when the test process dies, even killed outright."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A private Orthanc with the DICOMweb plugin on a free loopback port, for the session."""
    if not (os.path.isfile(ORTHANC) and os.access(ORTHANC, os.X_OK)):
        pytest.fail(f"Orthanc is not installed ({ORTHANC} is missing); run `apt-get install orthanc "
                    "orthanc-dicomweb` (make test installs them)", pytrace=False)
    root = tmp_path_factory.mktemp("orthanc")
    user, password = "medunion", secrets.token_urlsafe(18)
    failure = ""
    for attempt in range(3):  # another process may take the free port before Orthanc binds it
        port = _free_port()
        config = root / "orthanc.json"
        config.write_text(json.dumps(_config(root, port, _free_port(), user, password), indent=2))
        server = OrthancServer(url=f"http://127.0.0.1:{port}", user=user, password=password)
        log = root / f"orthanc-{attempt}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([ORTHANC, str(config)], cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL,
                                       preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        failure = _wait_ready(process, server, log)
        if not failure:
            break
        _stop(process)
        failure += "\n" + _log_tail(log)
    else:
        pytest.fail(f"could not start Orthanc for the tests: {failure}", pytrace=False)
    try:
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def orthanc_url(orthanc_server: OrthancServer) -> str:
    """The DICOMweb root of the tests' Orthanc (``http://127.0.0.1:PORT/dicom-web``); its user
    and password are on the ``orthanc_server`` fixture."""
    return orthanc_server.dicomweb_url
