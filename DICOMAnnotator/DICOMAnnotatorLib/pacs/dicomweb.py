"""A DICOMweb PACS (PS3.18): QIDO-RS searches and STOW-RS stores through ``dicomweb-client``, WADO-RS
retrievals streamed part by part.

QIDO-RS and STOW-RS go through :class:`dicomweb_client.DICOMwebClient` on our own
``requests.Session`` (credentials, timeouts). For WADO-RS the same session asks for the series
(or instance) as ``multipart/related; type="application/dicom"`` in whatever transfer syntax the
PACS holds it (``transfer-syntax=*``, PS3.18 8.7.3.5) and :mod:`.multipart` splits the stream:
``dicomweb-client``'s retrieve methods return decoded pydicom datasets, whose re-encoding would
not be guaranteed to give back the bytes the PACS holds and costs a parse and a write per file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .credentials import Credentials
from .endpoints import PacsEndpoint
from .instances import InstanceRef, check_uid
from .multipart import boundary_of, split_parts
from .retry import TransferError, TransientError

#: Any transfer syntax the PACS holds the instance in: the files arrive as they were stored.
ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'
#: HTTP statuses worth another try (PS3.18 8.6: busy, overloaded, timed out).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: One STOW-RS request carries at most this many bytes of files (then the next request starts).
STORE_BATCH_BYTES = 64 << 20
_CHUNK = 1 << 20

# DICOM JSON tags (PS3.18 F.2) of the attributes read from QIDO-RS answers.
_TAGS = {"study": "0020000D", "series": "0020000E", "sop": "00080018", "sop_class": "00080016",
         "modality": "00080060", "patient_id": "00100020", "study_date": "00080020",
         "modalities": "00080061", "description": "00081030", "instances": "00201208"}


class DicomWebPacs:
    """Searches, retrievals and stores against one DICOMweb base URL."""

    def __init__(self, endpoint: PacsEndpoint, credentials: Credentials | None = None, *,
                 timeout: float = 60.0) -> None:
        import requests
        from dicomweb_client import DICOMwebClient

        self.endpoint = endpoint
        self.credentials = credentials
        self.timeout = timeout
        self.session = requests.Session()
        if credentials is not None:
            credentials.apply(self.session)
        self.client = DICOMwebClient(endpoint.url, session=self.session, timeout=(min(timeout, 30.0), timeout))
        self.client.set_http_retry_params(retry=False)  # RetryPolicy decides, with the pull's own bookkeeping

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ QIDO-RS
    def studies(self, *, study: str | None = None, patient_id: str | None = None) -> list[dict[str, Any]]:
        filters = {key: value for key, value in (("StudyInstanceUID", study), ("PatientID", patient_id)) if value}
        with self._translated("searching for studies"):
            found = self.client.search_for_studies(search_filters=filters, get_remaining=True,
                                                   fields=["ModalitiesInStudy", "NumberOfStudyRelatedInstances",
                                                           "StudyDescription"])
        return [{"study": _value(r, "study"), "patient_id": _value(r, "patient_id"),
                 "study_date": _value(r, "study_date"), "description": _value(r, "description"),
                 "modalities": _values(r, "modalities"), "instances": _int(_value(r, "instances"))} for r in found]

    def instances(self, study: str) -> list[InstanceRef]:
        """Every instance of ``study`` the PACS lists (QIDO-RS, all pages)."""
        check_uid(study)
        with self._translated(f"listing study {study}"):
            found = self.client.search_for_instances(study_instance_uid=study, get_remaining=True,
                                                     fields=["SeriesInstanceUID", "SOPClassUID", "Modality"])
        refs = []
        for result in found:
            series, sop = _value(result, "series"), _value(result, "sop")
            if series and sop:
                refs.append(InstanceRef(study, series, sop, _value(result, "sop_class"), _value(result, "modality")))
        return refs

    # ------------------------------------------------------------------ WADO-RS
    def retrieve(self, study: str, series: str | None, sops: Sequence[str] | None, receive: Callable[[bytes], object],
                 sop_classes: Sequence[str] = ()) -> None:
        """The study (``series`` None), the series (``sops`` None) or those of its instances, each handed to
        ``receive`` as it arrives (``sop_classes`` is for DIMSE, which must name them in advance)."""
        base = f"{self.endpoint.url}/studies/{check_uid(study)}"
        if series is not None:
            base += f"/series/{check_uid(series)}"
        urls = [base] if sops is None else [f"{base}/instances/{check_uid(sop)}" for sop in sops]
        for url in urls:
            with self._translated(f"retrieving {'series ' + series if series else 'study ' + study}"):
                for part in self._stream(url):
                    receive(part)

    def _stream(self, url: str) -> Iterator[bytes]:
        response = self.session.get(url, headers={"Accept": ACCEPT_DICOM}, stream=True,
                                    timeout=(min(self.timeout, 30.0), self.timeout))
        with response:
            self._check(response, url)
            yield from split_parts(response.iter_content(_CHUNK), boundary_of(response.headers.get("content-type",
                                                                                                   "")))

    # ------------------------------------------------------------------ STOW-RS
    def store(self, paths: Sequence[Path]) -> dict[str, str | None]:
        """Send ``paths`` (as few requests as fit :data:`STORE_BATCH_BYTES`); SOP Instance UID -> failure or None."""
        import pydicom

        outcome: dict[str, str | None] = {}
        for batch in _batches(paths):
            datasets = [pydicom.dcmread(path) for path in batch]
            with self._translated(f"storing {len(batch)} file(s)"):
                answer = self.client.store_instances(datasets)
            outcome.update(_store_outcome(answer, [str(ds.SOPInstanceUID) for ds in datasets]))
        return outcome

    # ------------------------------------------------------------------ errors
    def _check(self, response: Any, what: str) -> None:
        if response.status_code < 400:
            return
        raise _status_error(response.status_code, what, self)

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """Network and HTTP failures as :class:`TransientError` (worth another try) or :class:`TransferError`."""
        import requests

        try:
            yield
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            raise _status_error(status, doing, self) from None
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
            raise TransientError(f"{doing} at {self.endpoint}: {type(error).__name__} (the PACS did not answer or "
                                 "the connection broke)") from None
        except ValueError as error:  # dicomweb-client's "unexpected media type" and the like
            raise TransferError(f"{doing} at {self.endpoint}: the PACS's answer is not DICOMweb ({error})") from None


def _status_error(status: int, doing: str, pacs: DicomWebPacs) -> TransferError:
    where = f"{doing} at {pacs.endpoint}"
    if status in (401, 403):
        given = f"the credentials from {pacs.credentials.source}" if pacs.credentials else "no credentials"
        return TransferError(f"{where}: the PACS refused access (HTTP {status}) with {given}; check them "
                             "(--credentials FILE or $DICOM_ANNOTATOR_PACS_USER/_PASSWORD)")
    if status == 404:
        return TransferError(f"{where}: the PACS has no such resource (HTTP 404); check the UID and the DICOMweb "
                             "base URL")
    if status in RETRY_STATUSES:
        return TransientError(f"{where}: HTTP {status}")
    return TransferError(f"{where}: the PACS answered HTTP {status}")


def _batches(paths: Sequence[Path]) -> Iterator[list[Path]]:
    batch: list[Path] = []
    size = 0
    for path in paths:
        length = path.stat().st_size
        if batch and size + length > STORE_BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += length
    if batch:
        yield batch


def _store_outcome(answer: Any, sent: list[str]) -> dict[str, str | None]:
    """Per SOP Instance UID, None when the Store Instances Response lists it as stored, else why not (PS3.18 10.5.3)."""
    outcome: dict[str, str | None] = {uid: "the PACS did not confirm it" for uid in sent}
    for item in getattr(answer, "ReferencedSOPSequence", None) or []:
        outcome[str(item.ReferencedSOPInstanceUID)] = None
    for item in getattr(answer, "FailedSOPSequence", None) or []:
        reason = item.get("FailureReason")
        outcome[str(item.ReferencedSOPInstanceUID)] = f"refused by the PACS (failure reason {reason:#06x})" if \
            isinstance(reason, int) else "refused by the PACS"
    return outcome


def _value(result: dict[str, Any], name: str) -> str | None:
    values = _values(result, name)
    return values[0] if values else None


def _values(result: dict[str, Any], name: str) -> list[str]:
    element = result.get(_TAGS[name]) or {}
    return [str(v) for v in element.get("Value", []) if v is not None]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
