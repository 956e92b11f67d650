"""The demo flow, step by step, on a generated phantom CT (no real patient data).

Each step yields a line for the user; the flow grows as features land: load the series,
build a segmentation, then (later) protocol, SEG/SR export, consensus and review.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .atomic import atomic_path
from .labelmap_io import write_image
from .reference_series import ReferenceSeries
from .sample_data import PHANTOM_SEGMENTS, ct_datasets, phantom_geometry, phantom_volume, write_datasets
from .segmentation import Segmentation


def run_demo(output: str | os.PathLike[str], *, force: bool = False) -> Iterator[str]:
    """Run the demo into ``output`` (created whole, or not at all) and describe each step."""
    output = Path(output)
    with atomic_path(output, force=force, directory=True) as work:
        geometry = phantom_geometry(size=(128, 96, 40), spacing=(0.8, 0.7, 2.0))
        hu, labels = phantom_volume(geometry)
        series_folder = work / "series"
        write_datasets(ct_datasets(geometry, hu), series_folder)
        yield f"1. Wrote a synthetic CT series of {geometry.size[2]} slices: {output / 'series'}"

        series = ReferenceSeries.from_paths(series_folder)
        g = series.geometry
        yield (f"2. Loaded series {series.series_instance_uid} ({series.modality}): "
               f"{g.size[0]} x {g.size[1]} x {g.size[2]} voxels, spacing "
               + " x ".join(f"{v:.3g}" for v in g.spacing) + " mm")
        yield "   Voxel-to-patient (LPS) affine:"
        yield from ("     " + " ".join(f"{v:9.3f}" for v in row) for row in g.affine)

        segmentation = Segmentation.from_labelmap(series.geometry, labels, PHANTOM_SEGMENTS,
                                                  reference=series, author="Demo^Annotator")
        write_image(segmentation.to_labelmap(), series.geometry, work / "labels.nii.gz")
        yield f"3. Built a segmentation and wrote its label map: {output / 'labels.nii.gz'}"
        yield from ("   " + line for line in segmentation.summary().splitlines())
    yield f"Done: all outputs are in {output}"
