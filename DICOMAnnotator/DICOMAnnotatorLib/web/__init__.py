"""The browser app: DICOMAnnotator's desks on trame-slicer, behind the team server's accounts.

``launcher`` is the process ``dicom-annotator web`` starts: the sign-in page, and a reverse proxy
to each signed-in user's own Slicer session process (``sessions`` starts, watches and stops them;
``pages`` is their HTML). The session process (``desk_app``, on trame-slicer and slicer-core) runs the
MRML layer's desks for one user; ``annotator_panel`` and ``reviewer_panel`` are its side panels.
Only the session process's modules import trame or Slicer; the launcher needs neither.
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "launcher": ["LauncherSettings", "create_launcher", "run_launcher"],
    "sessions": ["default_work_root"],
})
