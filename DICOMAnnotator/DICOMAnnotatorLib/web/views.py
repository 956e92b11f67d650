"""What the panels ask of trame-slicer's views beyond showing a case."""

from __future__ import annotations


def fit_three_d_views(slicer_app) -> None:
    """Frame the 3D views on what they show, as Slicer's Show 3D button does when it first makes the surfaces:
    without it the camera stays on the scene's default box and a lesion's surface shows as a few pixels."""
    for view in slicer_app.view_manager.get_threed_views():
        view.fit_view_to_content()
        view.schedule_render()
