"""Helpers of the AI-draft tests: model outputs written the way the tools write them, a test protocol, and
overlap figures computed independently of the core (point sets and a k-d tree, not distance transforms).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from DICOMAnnotatorLib.imaging import ReferenceSeries, phantoms
from DICOMAnnotatorLib.protocols import Protocol, load_protocol
from scipy.spatial import cKDTree

#: TotalSegmentator's own names and values (its ``class_map["total"]``, v2) for the structures the phantom has,
#: with some it does not: a real multilabel file names far more labels than a case shows.
TOTALSEGMENTATOR_CLASSES = {1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver",
                            6: "stomach", 7: "pancreas", 31: "vertebrae_L2", 32: "vertebrae_L1"}
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def drafts_protocol() -> Protocol:
    """liver-lesions-ct with a Vertebra structure (value 3), one annotator and no review tiers: submit, then sign."""
    data = load_protocol("liver-lesions-ct").to_dict()
    data.update(id="drafts-test-ct", annotators_per_case=1, review_tiers=[])
    vertebra = {"label": "Vertebra", "kind": "volume", "label_value": 3,
                "category": {"code_value": "91723000", "coding_scheme_designator": "SCT",
                             "code_meaning": "Anatomical Structure"},
                "type": {"code_value": "51282000", "coding_scheme_designator": "SCT", "code_meaning": "Vertebra"},
                "color": "#f1d691", "required": False}
    data["structures"] = [*data["structures"], vertebra]
    return Protocol.from_dict(data, source="the drafts tests' protocol")


def write_protocol(path: Path) -> Path:
    path.write_text(json.dumps(drafts_protocol().to_dict()), encoding="utf-8")
    return path


def phantom_series(folder: Path, **geometry) -> tuple[ReferenceSeries, np.ndarray, np.ndarray]:
    """A phantom CT series (new UIDs each call); (series, HU, label map: 1 liver, 2 lesion, 3 vertebra)."""
    grid = phantoms.phantom_geometry(**({"size": (32, 24, 8)} | geometry))
    hu, labels = phantoms.phantom_volume(grid)
    phantoms.write_datasets(phantoms.ct_datasets(grid, hu), folder)
    return ReferenceSeries.from_paths([folder]), hu, labels


def ras_affine(series: ReferenceSeries) -> np.ndarray:
    """The NIfTI (RAS) affine of the series' voxel grid (i, j, k)."""
    return LPS_TO_RAS @ np.asarray(series.geometry.affine)


def write_totalsegmentator_output(path: Path, labelmap: np.ndarray, series: ReferenceSeries,
                                  classes: dict[int, str]) -> Path:
    """TotalSegmentator's ``--ml`` file: a NIfTI of label values with its class map in a header extension (code 0,
    a Caret XML label table, as its ``add_label_map_to_nifti`` writes it), saved by nibabel uncompressed."""
    import nibabel as nib

    image = nib.Nifti1Image(np.ascontiguousarray(labelmap.transpose(2, 1, 0)).astype(np.uint8), ras_affine(series))
    entries = "".join(f'<Label Key="{value}" Red="1.0" Green="0.0" Blue="0.0" Alpha="1"><![CDATA[{name}]]></Label>\n'
                      for value, name in classes.items())
    xml = ('<?xml version="1.0" encoding="UTF-8"?> <CaretExtension>  <Date><![CDATA[2013-07-14T05:45:09]]></Date>   '
           f'<VolumeInformation Index="0">   <LabelTable>\n{entries}\n  </LabelTable>  <StudyMetaDataLinkSet>  '
           "</StudyMetaDataLinkSet>  <VolumeType><![CDATA[Label]]></VolumeType>   </VolumeInformation></CaretExtension>"
           "\n              ")
    image.header.extensions.append(nib.nifti1.Nifti1Extension(0, xml.encode("utf-8")))
    nib.save(image, str(path))
    return path


def write_monai_output(path: Path, channels: np.ndarray, series: ReferenceSeries) -> Path:
    """An output as MONAI's ``SaveImage`` writes it (NibabelWriter): channel-first ``[c, k, j, i]`` data saved with
    the channel last; one channel (a label map after the argmax) gives a 3D file, several a 4D one."""
    from monai.data import NibabelWriter

    writer = NibabelWriter(output_dtype=channels.dtype)
    writer.set_data_array(np.ascontiguousarray(channels.transpose(0, 3, 2, 1)), channel_dim=0)
    affine = ras_affine(series)
    writer.set_metadata({"affine": affine, "original_affine": affine, "space": "RAS"}, resample=False)
    writer.write(str(path), verbose=False)
    return path


def monai_metadata(folder: Path, channels: dict[str, str], *, name: str = "liver_ct_segmentation",
                   version: str = "0.1.0") -> Path:
    """A MONAI bundle's ``configs/metadata.json``: name, version and what each output channel is."""
    metadata = {"schema": "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/"
                          "meta_schema_20220324.json",
                "version": version, "name": name, "monai_version": "1.6.1", "pytorch_version": "2.13.0",
                "network_data_format": {
                    "inputs": {"image": {"type": "image", "format": "hounsfield", "modality": "CT", "num_channels": 1,
                                         "spatial_shape": [32, 32, 8], "dtype": "float32", "value_range": [0, 1],
                                         "is_patch_data": False, "channel_def": {"0": "image"}}},
                    "outputs": {"pred": {"type": "image", "format": "segmentation",
                                         "num_channels": len(channels), "spatial_shape": [32, 32, 8],
                                         "dtype": "float32", "value_range": [0, 1], "is_patch_data": False,
                                         "channel_def": channels}}}}
    (folder / "configs").mkdir(parents=True, exist_ok=True)
    path = folder / "configs" / "metadata.json"
    path.write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return path


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=0, keepdims=True))
    return (shifted / shifted.sum(axis=0, keepdims=True)).astype(np.float32)


def surface_points(mask: np.ndarray, spacing_kji) -> np.ndarray:
    """Millimetre coordinates of the voxels of ``mask`` that have a face neighbour outside it."""
    padded = np.pad(mask, 1)
    inside = np.ones_like(mask)
    for axis in range(3):
        for step in (-1, 1):
            inside &= np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1]
    return np.argwhere(mask & ~inside) * np.asarray(spacing_kji)


def independent_figures(draft: np.ndarray, result: np.ndarray, spacing_kji) -> dict[str, float | int | None]:
    """Dice, HD95 (larger directed 95th percentile of surface distances), volumes and voxels added and removed."""
    both = int(np.count_nonzero(draft & result))
    total = int(np.count_nonzero(draft)) + int(np.count_nonzero(result))
    figures = {"dice": 1.0 if total == 0 else 2 * both / total, "hd95_mm": None,
               "voxels_added": int(np.count_nonzero(result & ~draft)),
               "voxels_removed": int(np.count_nonzero(draft & ~result)),
               "volume_difference_ml": (int(draft.sum()) - int(result.sum())) * float(np.prod(spacing_kji)) / 1000}
    if draft.any() and result.any():
        a, b = surface_points(draft, spacing_kji), surface_points(result, spacing_kji)
        figures["hd95_mm"] = max(np.percentile(cKDTree(b).query(a)[0], 95), np.percentile(cKDTree(a).query(b)[0], 95))
    return figures
