"""RT Structure Sets (PS3.3 A.19): ROIs read as masks on their series (``reader``) and segmentations
written as ROIs of closed planar contours (``writer``), the two meeting in voxel-edge polygons filled
by the even-odd rule of voxel centres (``polygons``); both report each ROI's contours (``summary``).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "polygons": ["fill_slice", "outline_volume"],
    "reader": ["StructureSetImport", "read_rtstruct"],
    "summary": ["RoiSummary"],
    "writer": ["build_rtstruct", "write_rtstruct"],
})
