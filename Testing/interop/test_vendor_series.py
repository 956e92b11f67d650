"""SEG and SR on real scanners' series (GE, Philips, Siemens, Hitachi MR from dicom2nifti's tests).

Those series were anonymised by their publisher the way real exports are: no Frame of Reference
UID, no Patient's Sex, a Patient's Age of "0Y". What we write on them must still be valid
(dciodvfy) and read back voxel for voxel; before session 4 the SEG writer stopped at the missing
Patient's Sex and the SR writer still did.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from conftest import dciodvfy_errors, third_party_file
from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.seg.writer import write_seg
from DICOMAnnotatorLib.sr.reader import sr_summary
from DICOMAnnotatorLib.sr.writer import export_sr

VENDORS = ("ge", "philips", "siemens", "hitachi", "generic")


@pytest.mark.filterwarnings("ignore:The string \"dicom2nifti\" is unlikely to represent")  # highdicom, on the name
@pytest.mark.parametrize("vendor", VENDORS)
def test_seg_and_sr_on_an_anonymised_scanner_series(vendor, tmp_path):
    folder = third_party_file(f"dicom2nifti/tests/data/{vendor}/anatomical/001")
    series = ReferenceSeries.from_paths(folder)
    voxels = series.read_voxels()
    labels = (voxels > np.percentile(voxels, 70)).astype(np.uint8) + (voxels > np.percentile(voxels, 95))
    segments = [SegmentDescription(1, "Bright"), SegmentDescription(2, "Brightest")]
    segmentation = Segmentation.from_labelmap(series.geometry, labels, segments, reference=series, author="Doe^Jane")
    for seg_type in ("binary", "labelmap"):
        path = write_seg(segmentation, tmp_path / f"{seg_type}.dcm", segmentation_type=seg_type)
        back = read_seg(path, series)
        assert all(np.array_equal(back.mask(n), segmentation.mask(n)) for n in (1, 2)), seg_type
    assert dciodvfy_errors(tmp_path / "binary.dcm") == []  # the installed dciodvfy predates Label Map SEG
    sr = tmp_path / "sr.dcm"
    export_sr(tmp_path / "binary.dcm", folder, sr)
    assert dciodvfy_errors(sr) == []
    assert len(sr_summary(sr)["measurements"]) == 12
    source = series.datasets[0]
    for path in (tmp_path / "binary.dcm", sr):
        written = pydicom.dcmread(path, stop_before_pixels=True)
        assert (written.PatientID, written.StudyInstanceUID) == (source.PatientID, source.StudyInstanceUID)
        assert written.PatientSex == source.get("PatientSex", "")  # Type 2: present, empty when the source has none
