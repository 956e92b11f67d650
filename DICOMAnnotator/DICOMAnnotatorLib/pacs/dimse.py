"""A DIMSE PACS (PS3.4, PS3.7): C-FIND to search, C-GET to retrieve, C-STORE to send, with ``pynetdicom``.

Searches use the Study Root Query/Retrieve model (PS3.4 C.6.2), level by level: the study's series
first, then each series' instances. Retrieval is C-GET (PS3.4 C.4.3): the PACS sends the instances
back over the same association as C-STORE sub-operations, to which we accept the SCP role, so
nothing has to reach us from outside (C-MOVE would need the PACS to open a connection to us).
Each received data set is kept as it was encoded on the wire, in the transfer syntax the PACS
chose from those we offer (all of them: it then keeps the one it stored). C-STORE sends each file
as read from disk, without decoding it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError
from .endpoints import PacsEndpoint
from .instances import InstanceRef, check_uid, header_ref
from .retry import TransferError, TransientError

#: PS3.7 C.4.1: Success, and the Pending statuses of a C-FIND/C-GET still under way.
SUCCESS = 0x0000
PENDING = frozenset({0xFF00, 0xFF01})
#: At most 128 presentation contexts per association (PS3.8 9.3.2.2, one-byte odd IDs).
MAX_CONTEXTS = 128

log = logging.getLogger("dicom_annotator.pacs")


class DimsePacs:
    """Searches, retrievals and stores against one DIMSE application entity."""

    def __init__(self, endpoint: PacsEndpoint, *, timeout: float = 60.0) -> None:
        try:
            import pynetdicom  # noqa: F401
        except ImportError:
            raise MissingDependencyError("pynetdicom", "DIMSE transfers (dimse:// URLs)",
                                         "pip install 'dicom-annotator[pacs]'") from None
        self.endpoint = endpoint
        self.timeout = timeout

    def close(self) -> None:
        """Associations last one operation each: nothing stays open."""

    # ------------------------------------------------------------------ C-FIND
    def studies(self, *, study: str | None = None, patient_id: str | None = None) -> list[dict[str, Any]]:
        identifier = _identifier("STUDY", StudyInstanceUID=study or "", PatientID=patient_id or "", StudyDate="",
                                 StudyDescription="", ModalitiesInStudy="", NumberOfStudyRelatedInstances="")
        return [{"study": str(r.get("StudyInstanceUID", "")), "patient_id": str(r.get("PatientID", "") or "") or None,
                 "study_date": str(r.get("StudyDate", "") or "") or None,
                 "description": str(r.get("StudyDescription", "") or "") or None,
                 "modalities": [str(m) for m in _as_list(r.get("ModalitiesInStudy"))],
                 "instances": int(r.NumberOfStudyRelatedInstances) if r.get("NumberOfStudyRelatedInstances") else None}
                for r in self._find([identifier], f"searching for studies at {self.endpoint}")]

    def instances(self, study: str) -> list[InstanceRef]:
        """Every instance of ``study``: its series (SERIES level), then their instances (IMAGE level)."""
        check_uid(study)
        doing = f"listing study {study} at {self.endpoint}"
        series = [(str(r.SeriesInstanceUID), str(r.get("Modality", "") or "") or None)
                  for r in self._find([_identifier("SERIES", StudyInstanceUID=study, SeriesInstanceUID="",
                                                   Modality="")], doing)]
        queries = [_identifier("IMAGE", StudyInstanceUID=study, SeriesInstanceUID=uid, SOPInstanceUID="",
                               SOPClassUID="") for uid, _ in series]
        modality = dict(series)
        return [InstanceRef(study, str(r.SeriesInstanceUID), str(r.SOPInstanceUID),
                            str(r.get("SOPClassUID", "") or "") or None, modality.get(str(r.SeriesInstanceUID)))
                for r in self._find(queries, doing) if r.get("SOPInstanceUID")]

    def _find(self, identifiers: list[Any], doing: str) -> list[Any]:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as find_model

        matches = []
        with self._association([_context(find_model)], doing) as association:
            for identifier in identifiers:
                for status, match in association.send_c_find(identifier, find_model):
                    code = _status(status, doing)
                    if code in PENDING and match is not None:
                        matches.append(match)
                    elif code != SUCCESS and code not in PENDING:
                        raise TransferError(f"{doing}: C-FIND failed with status {code:#06x}")
        return matches

    # ------------------------------------------------------------------ C-GET
    def retrieve(self, study: str, series: str | None, sops: Sequence[str] | None,
                 receive: Callable[[bytes], object], sop_classes: Sequence[str] = ()) -> None:
        """The study (``series`` None), the series (``sops`` None) or those of its instances, each handed to
        ``receive`` as it arrives (without ``sop_classes``, every storage class is offered)."""
        from pynetdicom import ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, build_context, build_role, evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as get_model

        doing = f"retrieving {'series ' + check_uid(series) if series else 'study ' + check_uid(study)} at " \
                f"{self.endpoint}"
        classes = sorted(set(sop_classes)) or [c.abstract_syntax for c in StoragePresentationContexts]
        classes = classes[:MAX_CONTEXTS - 1]
        contexts = [_context(get_model)] + [build_context(uid, ALL_TRANSFER_SYNTAXES) for uid in classes]
        roles = [build_role(uid, scp_role=True) for uid in classes]
        problems: list[str] = []

        def stored(event: Any) -> int:
            try:
                receive(event.encoded_dataset(include_meta=True))
            except Exception as error:  # told to the PACS as a failed sub-operation, and to our caller below
                problems.append(str(error))
                return 0xA700  # Out of Resources: the instance was not kept
            return SUCCESS

        level = "STUDY" if series is None else "SERIES" if sops is None else "IMAGE"
        identifier = _identifier(level, StudyInstanceUID=check_uid(study))
        if series is not None:
            identifier.SeriesInstanceUID = series
        if sops is not None:
            identifier.SOPInstanceUID = [check_uid(uid) for uid in sops]
        with self._association(contexts, doing, roles=roles, handlers=[(evt.EVT_C_STORE, stored)]) as association:
            for status, _ in association.send_c_get(identifier, get_model):
                code = _status(status, doing)
                if code not in PENDING and code != SUCCESS:
                    failed = status.get("NumberOfFailedSuboperations")
                    log.warning("%s: C-GET ended with status %#06x (%s failed)", doing, code, failed)
        if problems:
            raise TransferError(f"{doing}: {len(problems)} instance(s) could not be kept ({problems[0]})")

    # ------------------------------------------------------------------ C-STORE
    def store(self, paths: Sequence[Path]) -> dict[str, str | None]:
        """Send each file as it is on disk; SOP Instance UID -> failure or None."""
        from pynetdicom import build_context

        refs = [(path, header_ref(path), _transfer_syntax(path)) for path in paths]
        outcome: dict[str, str | None] = {}
        syntaxes: dict[str, set[str]] = {}
        for _path, ref, syntax in refs:
            syntaxes.setdefault(ref.sop_class or "", set()).add(syntax)
        contexts = [build_context(sop_class, sorted(found)) for sop_class, found in sorted(syntaxes.items())]
        if len(contexts) > MAX_CONTEXTS:
            raise TransferError(f"Sending {len(contexts)} kinds of object at once needs more than the {MAX_CONTEXTS} "
                                "presentation contexts one association has; send them in smaller groups")
        doing = f"storing {len(paths)} file(s) at {self.endpoint}"
        with self._association(contexts, doing) as association:
            for path, ref, _syntax in refs:
                status = association.send_c_store(path)
                code = _status(status, doing)
                outcome[ref.sop] = None if code in (SUCCESS, 0xB000, 0xB007, 0xB006) else \
                    f"refused by the PACS (C-STORE status {code:#06x})"
        return outcome

    # ------------------------------------------------------------------ associations
    @contextmanager
    def _association(self, contexts: list[Any], doing: str, *, roles: list[Any] | None = None,
                     handlers: list[Any] | None = None) -> Iterator[Any]:
        from pynetdicom import AE

        ae = AE(ae_title=self.endpoint.calling_aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        ae.maximum_pdu_size = 0  # no limit on what the PACS may send us in one PDU
        association = ae.associate(self.endpoint.host, self.endpoint.port, contexts=contexts,
                                   ae_title=self.endpoint.called_aet or "ANY-SCP", ext_neg=roles or None,
                                   evt_handlers=handlers or None, max_pdu=0)
        if association.is_rejected:
            raise TransferError(f"{doing}: the PACS rejected the association (is {self.endpoint.calling_aet} known to "
                                f"it, and {self.endpoint.called_aet} its AE title?)")
        if not association.is_established:
            raise TransientError(f"{doing}: no association (the PACS did not answer or aborted)")
        try:
            yield association
            if association.is_aborted or not association.is_established:
                raise TransientError(f"{doing}: the association was aborted (the PACS stopped or the network broke)")
        finally:
            if association.is_established:
                association.release()
            ae.shutdown()


def _context(abstract_syntax: str) -> Any:
    from pynetdicom import build_context

    return build_context(abstract_syntax)


def _identifier(level: str, **keys: Any) -> Any:
    from pydicom.dataset import Dataset

    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(identifier, keyword, value)
    return identifier


def _status(status: Any, doing: str) -> int:
    """The status code of a response; an empty status means the association ended (aborted, timed out)."""
    if status is None or "Status" not in status:
        raise TransientError(f"{doing}: the PACS stopped answering (association aborted or timed out)")
    return int(status.Status)


def _transfer_syntax(path: Path) -> str:
    import pydicom

    meta = pydicom.filereader.read_file_meta_info(path)
    return str(meta.TransferSyntaxUID)


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
