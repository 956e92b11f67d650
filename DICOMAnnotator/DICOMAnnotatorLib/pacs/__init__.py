"""PACS transfer: query, pull and push over DICOMweb (PS3.18) and DIMSE (PS3.4, PS3.7).

``endpoints`` parses where the PACS is (``http(s)://.../dicom-web`` or ``dimse://AET@host:port``),
``credentials`` reads who we are to it (a file or the environment; never printed), ``dicomweb``
(``dicomweb-client`` for QIDO-RS and STOW-RS, WADO-RS streamed by ``multipart``) and ``dimse``
(``pynetdicom``: C-FIND, C-GET, C-STORE) speak to it, ``instances`` keeps what arrives whole under
its UIDs, ``retry`` tries transient failures again with back-off, and ``transfer`` runs resumable
pulls and pushes with their report. The commands are ``dicom-annotator pacs query|pull|push``.
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "credentials": ["Credentials", "load_credentials"],
    "endpoints": ["DEFAULT_CALLING_AET", "PacsEndpoint", "parse_endpoint"],
    "instances": ["InstanceRef"],
    "retry": ["RetryPolicy", "TransferError", "TransientError"],
    "transfer": ["TransferReport", "open_pacs", "pull_studies", "push_files", "query_studies"],
})
