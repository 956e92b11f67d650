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

#: The paint and erase brushes' diameter when a session starts (mm).
BRUSH_MM = 5.0


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
        from trame_server.utils.typed_state import TypedState
        from trame_slicer import module as trame_slicer_module
        from trame_slicer.app.logic import LayoutButtonLogic, SegmentEditorLogic
        from trame_slicer.app.ui import PaintEffectState
        from trame_slicer.core import SlicerApp
        from trame_slicer.rca_view import register_rca_factories
        from trame_slicer.segmentation import BrushDiameterMode

        from .annotator_panel import AnnotatorPanel
        from .desk_layout import DeskLayout
        from .feedback import declare
        from .probe import DataProbe
        from .reviewer_panel import ReviewerPanel

        self.server, self.settings = server, settings
        declare(server.state)
        server.enable_module(trame_slicer_module)
        self.slicer = SlicerApp()
        share_segmentations_logic(self.slicer.scene, self.slicer.app_logic, self.slicer.segmentations_logic)
        register_rca_factories(self.slicer.view_manager, server)
        self.editor_logic = SegmentEditorLogic(server, self.slicer)
        self.layout_logic = LayoutButtonLogic(server, self.slicer)
        self.layout_logic.data.current_layout_id = "Quad View"  # axial, sagittal, coronal and 3D
        # Brushes sized in millimetres of the patient (the same at every zoom), as the data probe shows them
        brush = TypedState(server.state, PaintEffectState).data
        brush.brush_diameter_mode = BrushDiameterMode.Absolute
        brush.brush_diameter_slider.value = BRUSH_MM
        self.probe = DataProbe(server, self.slicer.scene, lambda: brush.brush_diameter_slider.value)
        service = RemoteService(settings.server, token=settings.token)
        work = Path(settings.work)
        self.annotator = AnnotatorPanel(server, self.slicer, service, settings.user, work / "annotate",
                                        on_case=self._show_case)
        self.reviewer = ReviewerPanel(server, self.slicer, service, settings.user, work / "review",
                                      on_case=self._show_case, on_edit=self._edit)
        self.ui = DeskLayout(server, self.layout_logic.layout_manager, settings.user, self.annotator, self.reviewer)
        self.editor_logic.set_ui(self.ui.editor)
        self.layout_logic.set_ui(self.ui.layout_button)
        # The editor's effect pipelines were made with its parameter nodes, before the views existed, and have no
        # widget then (Paint fails on activation); closing the scene drops them, and they are made again, on the
        # views, when an effect is first chosen (trame-slicer's own app closes the scene when a volume loads).
        self.slicer.scene.Clear(0)

    def _show_case(self, volume_node, segmentation_node) -> None:
        """The case's volume in every slice view, the views fitted to it, its segmentation in the editor."""
        display = self.slicer.display_manager
        self.probe.follow(volume_node)
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
        if segmentation_node is not None:  # otherwise the case closed: its nodes left the scene
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


def exit_with_launcher(interval: float = 1.0) -> None:
    """End this process when the launcher that started it is gone (even killed outright): a session never
    outlives the sign-in that opened it."""
    import os
    import threading
    import time

    launcher = os.getppid()

    def watch() -> None:
        while os.getppid() == launcher:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m DICOMAnnotatorLib.web.desk_app")
    parser.add_argument("--port", type=int, required=True)
    args, _ = parser.parse_known_args(argv)
    settings = SessionSettings.read(sys.stdin.readline())
    exit_with_launcher()
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
