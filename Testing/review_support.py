"""Helpers of the review tests: phantom series, real SEGs (highdicom), tiny SEG/SR headers, table dumps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import sqlalchemy
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.review import schema
from DICOMAnnotatorLib.review.url import resolve_store_url
from DICOMAnnotatorLib.seg.descriptions import segment_item, to_highdicom_segment_description
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"


def write_series(folder: Path) -> tuple[Path, list[Dataset], np.ndarray]:
    """A small phantom CT series (new UIDs each call); returns (folder, datasets, label map)."""
    geometry = phantoms.phantom_geometry(size=(32, 24, 8))
    hu, labels = phantoms.phantom_volume(geometry)
    datasets = phantoms.ct_datasets(geometry, hu)
    phantoms.write_datasets(datasets, folder)
    return folder, datasets, labels


def liver():
    """The Liver structure of the liver-lesions-ct protocol (the one these tests' projects use) as a segment."""
    return load_protocol("liver-lesions-ct").structure("Liver").segment_description()


def write_seg(datasets: list[Dataset], mask: np.ndarray, path: Path, creator: str) -> Path:
    """A real BINARY DICOM SEG (highdicom) of segment "Liver" on the series."""
    import highdicom as hd

    description = to_highdicom_segment_description(liver())
    seg = hd.seg.Segmentation(
        source_images=datasets, pixel_array=mask.astype(np.uint8), segmentation_type="BINARY",
        segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=100,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="DICOMAnnotator tests",
        manufacturer_model_name="review", software_versions="0", device_serial_number="0",
        content_creator_name=creator)
    seg.save_as(path)
    return path


def write_header(path: Path, series_uid: str, *, modality: str = "SEG", note: str = "") -> Path:
    """A DICOM file with just what the store checks: SOP class, modality, referenced series, segments.

    The load tests write hundreds of submissions; a real SEG each would cost seconds.
    """
    ds = Dataset()
    ds.SOPClassUID = SEGMENTATION_STORAGE if modality == "SEG" else COMPREHENSIVE_3D_SR
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = modality
    ds.SeriesInstanceUID = generate_uid()
    ds.ContentDescription = note
    referenced = Dataset()
    referenced.SeriesInstanceUID = series_uid
    if modality == "SEG":
        ds.ReferencedSeriesSequence = [referenced]
        ds.SegmentSequence = [segment_item(liver())]
    else:
        study = Dataset()
        study.ReferencedSeriesSequence = [referenced]
        ds.CurrentRequestedProcedureEvidenceSequence = [study]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def dump_tables(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the store, sorted: equal dumps mean nothing changed."""
    engine = sqlalchemy.create_engine(resolve_store_url(url))
    try:
        with engine.connect() as conn:
            return {name: sorted(tuple(map(str, row)) for row in conn.execute(table.select()))
                    for name, table in schema.metadata.tables.items()}
    finally:
        engine.dispose()


def assert_refusal_recorded(url: str, before: dict[str, list[tuple]]) -> None:
    """Since ``before`` (a :func:`dump_tables`), the store changed by one audit record of a refusal, nothing else."""
    after = dump_tables(url)
    for name, rows in after.items():
        if name not in ("audit_log", "audit_head"):
            assert rows == before[name], f"a refused action changed table {name}"
    added = [row for row in after["audit_log"] if row not in before["audit_log"]]
    assert len(added) == 1 and added[0][3] == "refused", added
