"""A model's output file read onto the case's series grid, with its labels, before they are mapped.

Four kinds of file, told apart by their content:

- a DICOM SEG from any tool (BINARY, FRACTIONAL or LABELMAP): its segments are the labels, with codes;
- a label map (any 3D image SimpleITK reads: TotalSegmentator's ``--ml`` NIfTI, nnU-Net's and MONAI's
  outputs): integer values, named by a label table (see :mod:`.label_tables`);
- probability maps as one multi-channel image (channel c of a 4D NIfTI, as MONAI's ``SaveImage`` writes
  an output kept before its argmax, or of a vector image as ITK writes it): channel c is label value c;
- nnU-Net's ``--save_probabilities`` ``.npz`` (``probabilities`` of shape channels x slices x rows x
  columns, on the input image's grid but without geometry of its own: its shape must be the series').

Image files must lie on the series geometry (within 1e-3 mm): a model that resampled the image must
have resampled its output back (nnU-Net and MONAI's ``Invertd`` do); nothing is resampled here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..imaging import ReferenceSeries, Segmentation, VolumeGeometry, label_boxes
from .label_tables import LabelTable, SourceLabel, label_table_in_nifti, read_label_table
from .nifti import plain_volume


@dataclass(frozen=True)
class ModelOutput:
    """What a model wrote, on the series grid: a label map, probability channels, or a read SEG."""

    path: Path
    form: str
    labels: LabelTable
    voxels: np.ndarray | None = None
    #: For a label map: the bounding box of each label value 1..max (None where absent), found in one pass.
    boxes: list | None = None
    channels: np.ndarray | None = None
    segmentation: Segmentation | None = None

    @property
    def is_probabilities(self) -> bool:
        return self.channels is not None or (self.segmentation is not None
                                            and self.segmentation.kind.value == "FRACTIONAL")


def read_model_output(path: str | os.PathLike[str], series: ReferenceSeries, *,
                      label_table: str | os.PathLike[str] | None = None,
                      values_as_names: bool = False) -> ModelOutput:
    """``path`` on ``series``, with its labels from ``label_table`` (else from the file, its ``seg import``
    sidecar ``PATH.json``, or, with ``values_as_names``, from the values present, for ``--labels`` to map)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; give the model's output (a label map, probability maps or a "
                         "DICOM SEG)")
    if _is_dicom(path):
        return _seg_output(path, series)
    if path.name.lower().endswith(".npz"):
        channels = _npz_probabilities(path, series.geometry)
        return ModelOutput(path, "nnU-Net probabilities (.npz)",
                           _labels(path, label_table, range(1, len(channels)), values_as_names, channels=len(channels)),
                           channels=channels)
    voxels, geometry, channel_count = _read_image(path)
    series.geometry.require_same_grid(geometry, str(path))
    if channel_count:
        channels = _probabilities(voxels, path)
        return ModelOutput(path, f"probability maps ({channel_count} channels)",
                           _labels(path, label_table, range(1, channel_count), values_as_names, channels=channel_count),
                           channels=channels)
    if not np.issubdtype(voxels.dtype, np.integer):
        if not np.all(np.mod(voxels, 1) == 0):
            raise InputError(f"{path} holds non-integer values, so it is no label map; give probability maps as one "
                             "image with a channel per label (as MONAI writes them) or nnU-Net's .npz")
        voxels = voxels.astype(np.int64)
    if voxels.size and voxels.min() < 0:
        raise InputError(f"{path} holds the negative label value {int(voxels.min())}; label values are 0 (background) "
                         "or more")
    boxes = label_boxes(voxels)
    present = [value for value, box in enumerate(boxes, start=1) if box is not None]
    return ModelOutput(path, "label map", _labels(path, label_table, present, values_as_names), voxels=voxels,
                       boxes=boxes)


def _seg_output(path: Path, series: ReferenceSeries) -> ModelOutput:
    from ..seg import read_seg

    segmentation = read_seg(path, series)
    kind = segmentation.kind.value
    return ModelOutput(path, f"DICOM SEG ({kind})",
                       LabelTable(segment_labels(segmentation), f"{path} (its Segment Sequence)"),
                       segmentation=segmentation)


def segment_labels(segmentation: Segmentation) -> tuple[SourceLabel, ...]:
    """A segmentation's segments as labels to map: each named by its label, its segment number as its value and
    channel, with its codes."""
    return tuple(SourceLabel(d.label, (d.number,), d.number, d) for d in segmentation.segments)


def _labels(path: Path, label_table, present, values_as_names: bool, *, channels: int = 0) -> LabelTable:
    """The output's label table, checked against the label values ``present`` (or the ``channels``) of the output;
    with ``values_as_names`` and no table, one label per value (channel 0 of probabilities is background)."""
    table = read_label_table(label_table) if label_table is not None else label_table_in_nifti(path)
    sidecar = path.with_name(path.name + ".json")
    if table is None and sidecar.is_file():
        table = read_label_table(sidecar)
    if table is None and values_as_names:
        return LabelTable(tuple(SourceLabel(str(v), (v,), v) for v in present), f"{path} (its values)")
    if table is None:
        raise InputError(f"{path} carries no label table: give its table with --label-table (TotalSegmentator's class "
                         "map, nnU-Net's dataset.json, the MONAI bundle), or map its values with --labels "
                         '\'{"1": "STRUCTURE", ...}\'')
    if channels:
        unnamed = [label for label in table.labels if label.channel is None or label.channel >= channels]
        if unnamed:
            raise InputError(f"{path} has {channels} channels, but {table.source} names {unnamed[0]} for a channel "
                             "it does not have; give the label table of this output")
        return table
    named = {v for label in table.labels for v in label.values}
    strangers = [value for value in present if value not in named]
    if strangers:
        raise InputError(f"{path} holds label values {strangers[:10]} that {table.source} does not name; give the "
                         "label table of this output")
    return table


def _read_image(path: Path) -> tuple[np.ndarray, VolumeGeometry, int]:
    """Voxels ``[k, j, i]`` (or ``[c, k, j, i]``), the 3D grid, and the channel count (0: one value per voxel)."""
    plain = plain_volume(path) if path.name.lower().endswith((".nii", ".nii.gz")) else None
    if plain is not None:
        voxels, affine = plain
        return voxels, VolumeGeometry(voxels.shape[::-1], affine), 0
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(f"{path} could not be read as an image ({str(error).strip().splitlines()[-1]})") from None
    dimension, components = image.GetDimension(), image.GetNumberOfComponentsPerPixel()
    if dimension == 3 and components == 1:
        return sitk.GetArrayFromImage(image), VolumeGeometry.from_sitk(image), 0
    if dimension == 3:  # a vector image: channels are components, [k, j, i, c]
        return (np.moveaxis(sitk.GetArrayFromImage(image), -1, 0), VolumeGeometry.from_sitk(image[:, :, :]),
                components)
    if dimension == 4 and components == 1:  # channels along the fourth axis, [c, k, j, i]
        size = list(image.GetSize())
        first = sitk.Extract(image, [*size[:3], 0], [0, 0, 0, 0])
        return sitk.GetArrayFromImage(image), VolumeGeometry.from_sitk(first), size[3]
    raise InputError(f"{path} is a {dimension}D image with {components} component(s); a model's output is a 3D label "
                     "map or 3D probability maps with one channel per label")


def _npz_probabilities(path: Path, geometry: VolumeGeometry) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "probabilities" not in archive:
                raise InputError(f"{path} has no 'probabilities' array ({', '.join(archive.files)}); give the .npz "
                                 "nnU-Net writes with --save_probabilities")
            channels = archive["probabilities"]
    except (OSError, ValueError) as error:
        raise InputError(f"{path} is not a readable .npz ({error})") from None
    if channels.ndim != 4 or channels.shape[1:] != geometry.array_shape:
        raise InputError(f"{path} holds probabilities of shape {list(channels.shape)}; on this series they must be "
                         f"channels x {list(geometry.array_shape)} (slices, rows, columns), as nnU-Net writes them for "
                         "the series' own image")
    return _probabilities(channels, path)


def _probabilities(channels: np.ndarray, path: Path) -> np.ndarray:
    channels = np.asarray(channels, dtype=np.float32)
    if channels.size and (np.isnan(channels).any() or channels.min() < 0 or channels.max() > 1):
        raise InputError(f"{path} holds values outside [0, 1]; give probabilities (after the softmax or sigmoid), "
                         "not logits")
    return channels


def _is_dicom(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(132)
    return head[128:132] == b"DICM"
