"""The MRML layer: the only package that imports ``slicer`` and ``vtk``. Converts MRML
segmentation and volume nodes to and from the core's types (``bridge``), runs the annotator's
session (``annotation``) and the reviewer's (``review``, ``marks_review``), keeps each case's nodes in
its own subject-hierarchy folder (``hierarchy``), 2D images and cine loops as Slicer's DICOM plugins
show them (``planar``), a case's 2D images shown one image or frame at a time with segments kept per frame
(``planar_views``), segmentations as closed surfaces in 3D views on demand (``surfaces``), and
the two desks the Slicer modules' Logic calls (``cases``). Tested headless on the ``slicer-core`` wheel.
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "annotation": ["CASE_TARGET"],
    "bridge": ["create_headless_scene", "segment_editor_node", "segmentation_to_node", "share_segmentations_logic"],
    "cases": ["AnnotatorDesk", "ReviewerDesk"],
    "hierarchy": ["remove_nodes"],
    "planar": ["CineNodes", "cine_sequence", "image_volume_node", "open_planar_series"],
    "planar_views": ["PlanarViews"],
})
