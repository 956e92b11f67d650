"""Image + label map as NIfTI with a JSON label table: the form training pipelines read.

``image.nii.gz`` holds the series voxels in modality units (HU on CT; a colour series as its RGB
samples, three components per voxel), ``labels.nii.gz`` the
segments (value = segment number) on the same grid, and ``labels.json`` what each value means
(codes, colour) and where it came from. SimpleITK writes the NIfTI orientation from the
grid's LPS affine (converted to the RAS of the NIfTI header), so any viewer places both
volumes where the scanner did.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..errors import SegmentationError
from ..imaging import Segmentation, write_image


def export_nifti(segmentation: Segmentation, folder: str | os.PathLike[str], *, force: bool = False,
                 source: str | None = None) -> Path:
    """Write ``image.nii.gz``, ``labels.nii.gz`` and ``labels.json`` into ``folder`` (created whole)."""
    if segmentation.reference is None:
        raise SegmentationError("NIfTI export needs the image series of the segmentation; give --series")
    labelmap = segmentation.to_labelmap()  # refuses overlapping segments with their names
    voxels = segmentation.reference.read_voxels()
    folder = Path(folder)
    with atomic_path(folder, force=force, directory=True) as work:
        write_image(voxels, segmentation.geometry, work / "image.nii.gz")
        write_image(labelmap, segmentation.geometry, work / "labels.nii.gz")
        (work / "labels.json").write_text(json.dumps(label_table(segmentation, source=source), indent=2) + "\n",
                                          encoding="utf-8")
    return folder


def label_table(segmentation: Segmentation, *, source: str | None = None) -> dict[str, Any]:
    """What each label value means: number, label, codes (as CLI lists), colour, voxels and volume."""
    reference = segmentation.reference
    return {
        "series_instance_uid": reference.series_instance_uid if reference else None,
        "source": source,
        "geometry": segmentation.geometry.to_json(),
        "labels": [
            {
                "label_value": d.number,
                "number": d.number,
                "label": d.label,
                "category": d.category.as_list(),
                "type": d.type.as_list(),
                "type_modifier": d.type_modifier.as_list() if d.type_modifier else None,
                "anatomic_region": d.anatomic_region.as_list() if d.anatomic_region else None,
                "color": list(d.color),
                "voxels": segmentation.voxel_count(d.number),
                "volume_ml": round(segmentation.volume_ml(d.number), 6),
            }
            for d in segmentation.segments
        ],
    }
