"""One signed-in user's Slicer session process: trame-slicer's views and Segment Editor beside the desks' panels.

trame holds one shared state per server process, so every user gets a process of their own (the
launcher starts it at sign-in). It is started as ``python -m DICOMAnnotatorLib.web.desk_app --port N``
and reads one JSON line on standard input: the team server's URL, the user's session token, the
user's name, their work folder and the key the launcher sends with every request it forwards. The
token never appears in the argument list or the environment, which other local users can read.

The process listens on 127.0.0.1 and answers only requests that carry the key (the launcher's
reverse proxy adds it), so another account on the machine that finds the port gets nothing.
The page holds no business rule: every button calls a desk of the MRML layer, which calls the
team server, which decides.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..mrml import share_segmentations_logic
from ..server import RemoteService
from .sessions import KEY_HEADER

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionSettings:
    """What the launcher hands a session process on its standard input (never on its command line)."""

    server: str
    token: str
    user: str
    work: str
    key: str

    @classmethod
    def read(cls, line: str) -> SessionSettings:
        values = json.loads(line)
        return cls(**{name: str(values[name]) for name in ("server", "token", "user", "work", "key")})


class DeskApp:
    """The trame application of one user: Slicer's layout and Segment Editor, and the annotate/review panels."""

    def __init__(self, server, settings: SessionSettings) -> None:
        from trame_slicer import module as trame_slicer_module
        from trame_slicer.app.logic import LayoutButtonLogic, SegmentEditorLogic
        from trame_slicer.core import SlicerApp
        from trame_slicer.rca_view import register_rca_factories

        from .annotator_panel import AnnotatorPanel
        from .desk_layout import DeskLayout
        from .reviewer_panel import ReviewerPanel

        self.server, self.settings = server, settings
        server.enable_module(trame_slicer_module)
        self.slicer = SlicerApp()
        share_segmentations_logic(self.slicer.scene, self.slicer.app_logic, self.slicer.segmentations_logic)
        register_rca_factories(self.slicer.view_manager, server)
        self.editor_logic = SegmentEditorLogic(server, self.slicer)
        self.layout_logic = LayoutButtonLogic(server, self.slicer)
        self.layout_logic.data.current_layout_id = "Quad View"  # axial, sagittal, coronal and 3D
        service = RemoteService(settings.server, token=settings.token)
        work = Path(settings.work)
        self.annotator = AnnotatorPanel(server, self.slicer, service, settings.user, work / "annotate",
                                        on_case=self._show_case)
        self.reviewer = ReviewerPanel(server, self.slicer, service, settings.user, work / "review",
                                      on_case=self._show_case, on_edit=self._edit)
        self.ui = DeskLayout(server, self.layout_logic.layout_manager, settings.user, self.annotator, self.reviewer)
        self.editor_logic.set_ui(self.ui.editor)
        self.layout_logic.set_ui(self.ui.layout_button)

    def _show_case(self, volume_node, segmentation_node) -> None:
        """The case's volume in every slice view, the views fitted to it, its segmentation in the editor."""
        display = self.slicer.display_manager
        if volume_node is None:  # the case was closed (submitted)
            self._edit(None, None)
            return
        display.show_volume_in_slice_background(volume_node)
        display.show_volume_in_slice_foreground(None)
        display.reset_views()
        self._edit(volume_node, segmentation_node)
        self.ui.case_loaded()

    def _edit(self, volume_node, segmentation_node) -> None:
        editor = self.slicer.segmentation_editor
        editor.deactivate_effect()
        if segmentation_node is None:
            editor.set_active_segmentation(None, None)
        else:
            editor.set_active_segmentation(segmentation_node, volume_node)


def require_key(key: str):
    """An aiohttp middleware answering 403 to any request without the launcher's key."""
    from aiohttp import web

    @web.middleware
    async def guard(request, handler):
        if not hmac.compare_digest(request.headers.get(KEY_HEADER, ""), key):
            return web.Response(status=403, text="This session answers its launcher only.\n")
        return await handler(request)

    return guard


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m DICOMAnnotatorLib.web.desk_app")
    parser.add_argument("--port", type=int, required=True)
    args, _ = parser.parse_known_args(argv)
    settings = SessionSettings.read(sys.stdin.readline())
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from trame.app import get_server

    server = get_server("dicom-annotator", client_type="vue3")
    server.cli.set_defaults(port=args.port)
    DeskApp(server, settings)

    def bind(wslink_server: Any) -> None:
        wslink_server.app.middlewares.append(require_key(settings.key))

    server.controller.on_server_bind.add(bind)
    server.start(host="127.0.0.1", port=args.port, open_browser=False, show_connection_info=False,
                 disable_logging=True, timeout=0)


if __name__ == "__main__":
    main()
