"""Protocol segments as highdicom segment descriptions, written into a real SEG and read back."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from DICOMAnnotatorLib.dicom.codes import Code, from_dicom_code, to_highdicom_code
from DICOMAnnotatorLib.imaging.segmentation import AlgorithmType, SegmentDescription
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.seg.descriptions import (
    segment_description_from_dataset,
    to_highdicom_segment_description,
    to_highdicom_segment_descriptions,
)
from pydicom.data import get_testdata_file
from pydicom.sr.codedict import codes


def test_codes_convert_both_ways():
    liver = Code("10200004", "SCT", "Liver")
    concept = to_highdicom_code(liver)
    assert (concept.value, concept.scheme_designator, concept.meaning) == ("10200004", "SCT", "Liver")
    assert from_dicom_code(concept) == liver
    assert from_dicom_code(codes.SCT.Liver) == liver
    assert from_dicom_code(concept) == from_dicom_code(pydicom.Dataset(concept))


def test_modifiers_are_nested_where_dicom_puts_them():
    ich = load_protocol("intracranial-hemorrhage-ct")
    subdural = to_highdicom_segment_description(ich.structure("Subdural hemorrhage").segment_description())
    (region,) = subdural.AnatomicRegionSequence
    assert region.CodeValue == "18545000"
    assert region.AnatomicRegionModifierSequence[0].CodeMeaning == "Internal"
    assert subdural.SegmentNumber == 4 and subdural.SegmentAlgorithmType == "MANUAL"
    assert "SegmentationAlgorithmIdentificationSequence" not in subdural
    lung = load_protocol("lung-nodules-ct")
    right = to_highdicom_segment_description(lung.structure("Right lung").segment_description())
    type_item = right.SegmentedPropertyTypeCodeSequence[0]
    assert type_item.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue == "24028007"
    assert hd.color.CIELabColor.from_dicom_value(right.RecommendedDisplayCIELabValue).to_rgb() == (197, 165, 145)


def test_automatic_segments_name_their_algorithm():
    description = SegmentDescription(1, "Liver", type=Code("10200004", "SCT", "Liver"),
                                     algorithm_type=AlgorithmType.AUTOMATIC, algorithm_name="TotalSegmentator",
                                     tracking_id="liver-1")
    item = to_highdicom_segment_description(description, algorithm_version="2.4")
    algorithm = item.SegmentationAlgorithmIdentificationSequence[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("TotalSegmentator", "2.4")
    assert algorithm.AlgorithmFamilyCodeSequence[0].CodeMeaning == "Artificial Intelligence"
    assert item.TrackingID == "liver-1" and item.TrackingUID  # highdicom needs both: a UID is made


@pytest.mark.parametrize("protocol_id", ["liver-lesions-ct", "intracranial-hemorrhage-ct", "lung-nodules-ct"])
def test_a_seg_written_with_the_protocol_reads_back_as_the_protocol(protocol_id):
    protocol = load_protocol(protocol_id)
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    descriptions = protocol.segment_descriptions()
    mask = np.zeros((1, source.Rows, source.Columns, len(descriptions)), dtype=bool)
    for i in range(len(descriptions)):
        mask[0, 4 * i:4 * i + 3, 10:20, i] = True
    seg = hd.seg.Segmentation(
        source_images=[source], pixel_array=mask, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=to_highdicom_segment_descriptions(protocol), series_instance_uid=hd.UID(),
        series_number=100, sop_instance_uid=hd.UID(), instance_number=1, manufacturer="DICOMAnnotator",
        manufacturer_model_name="test", software_versions="0", device_serial_number="1",
    )
    from io import BytesIO

    buffer = BytesIO()
    seg.save_as(buffer)
    buffer.seek(0)
    read = hd.seg.segread(buffer)
    assert [segment_description_from_dataset(item) for item in read.SegmentSequence] == descriptions
    assert to_highdicom_segment_descriptions(descriptions)[0].SegmentLabel == descriptions[0].label
