"""Per-modality protocol settings, views and the ejection fraction rule: what each case's images get, and every
misuse refused by name with its JSON path.

- window presets by modality: a CT protocol's presets never land on a PET or an ultrasound loop; colour images
  (the echocardiography protocol's RGB loops) get none;
- SUV thresholds on PET as segmentation aids, worked on the PET/CT case of ``pet_cases`` (ADMIN, 370 MBq, 70 kg:
  SUV = Bq/ml x 70000 / 370e6; a lesion of 8000 Bq/ml, one voxel of 16000, background 1000):
  SUVmax 3.027027 in a box around the lesion, so 41 % of it is 1.241081 SUV = 6560 Bq/ml: the 64 lesion voxels;
  SUV 2.5 = 13214.3 Bq/ml: the hot voxel alone;
- the shipped mammography protocol's four views, BI-RADS composition and assessment.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.errors import ProtocolError
from DICOMAnnotatorLib.imaging import series_suv_scale, threshold_region
from DICOMAnnotatorLib.protocols import (
    EjectionFractionMethod,
    ModalitySettings,
    Protocol,
    SUVThreshold,
    WindowPreset,
    load_protocol,
)
from pet_cases import write_case

PET_SETTINGS = {
    "CT": {"window_presets": ["mediastinum", "lung"]},
    "PT": {"window_presets": [{"name": "SUV 0-10", "center": 5, "width": 10}],
           "suv_thresholds": [{"name": "41% of SUVmax", "fraction_of_max": 0.41}, {"name": "SUV 2.5", "suv": 2.5}]},
}


def pet_ct_protocol(settings=None) -> dict:
    """The liver protocol made a PET/CT one by its per-modality settings."""
    data = load_protocol("liver-lesions-ct").to_dict()
    data["modality_settings"] = copy.deepcopy(settings if settings is not None else PET_SETTINGS)
    return data


def test_each_modality_gets_its_own_windows():
    liver = load_protocol("liver-lesions-ct")
    assert liver.settings_for("CT").window_presets == liver.window_presets != ()
    assert liver.settings_for("PT") == liver.settings_for("US") == ModalitySettings()
    pet_ct = Protocol.from_dict(pet_ct_protocol())
    assert [w.name for w in pet_ct.settings_for("CT").window_presets] == ["mediastinum", "lung"]
    assert pet_ct.settings_for("PT").window_presets == (WindowPreset("SUV 0-10", 5, 10),)
    assert pet_ct.settings_for("PT").suv_thresholds == (SUVThreshold("41% of SUVmax", fraction_of_max=0.41),
                                                       SUVThreshold("SUV 2.5", suv=2.5))
    assert Protocol.from_dict(pet_ct.to_dict()) == pet_ct
    assert "PT: SUV 0-10 5/10; 41% of SUVmax (0.41 x SUVmax); SUV 2.5 (SUV 2.5)" in pet_ct.summary()
    echo = load_protocol("lv-function-echo-us")
    assert echo.settings_for("US") == ModalitySettings(color=True) and echo.window_presets == ()


def test_suv_thresholds_segment_the_worked_example(tmp_path):
    _, pet = write_case(tmp_path)
    suv = pet.read_voxels() * np.asarray(series_suv_scale(pet).factors)[:, None, None]
    region = np.zeros(suv.shape, bool)
    region[3:9, 7:13, 7:13] = True  # a box drawn around the lesion
    lesion = np.zeros(suv.shape, bool)
    lesion[4:8, 8:12, 8:12] = True
    relative, fixed = Protocol.from_dict(pet_ct_protocol()).settings_for("PT").suv_thresholds
    suv_max = float(suv[region].max())
    assert suv_max == pytest.approx(3.027027, rel=1e-6)
    assert relative.level(suv_max) == pytest.approx(1.241081, rel=1e-6)
    np.testing.assert_array_equal(threshold_region(suv, region, relative.level(suv_max)), lesion)
    hot = threshold_region(suv, region, fixed.level(suv_max))
    assert np.argwhere(hot).tolist() == [[5, 9, 10]]


def _echo(**changes) -> dict:
    data = load_protocol("lv-function-echo-us").to_dict()
    data.update(copy.deepcopy(changes))
    return data


@pytest.mark.parametrize(("data", "problems"), [
    (pet_ct_protocol({"US": {"window_presets": ["abdomen"]}}),
     ["modality_settings.US.window_presets[0]: 'abdomen' is a built-in CT preset", "the modality is 'US'"]),
    (pet_ct_protocol({"US": {"color": True, "window_presets": [{"name": "soft", "center": 128, "width": 256}]}}),
     ["modality_settings.US.window_presets: US images are colour", "no window applies"]),
    (pet_ct_protocol({"CT": {"suv_thresholds": [{"name": "SUV 2.5", "suv": 2.5}]}}),
     ["modality_settings.CT.suv_thresholds: SUV thresholds are for PET (PT) images, not CT"]),
    (pet_ct_protocol({"PT": {"suv_thresholds": [{"name": "both", "suv": 2.5, "fraction_of_max": 0.4}]}}),
     ["modality_settings.PT.suv_thresholds[0]: give either \"suv\"", "not both or neither"]),
    (pet_ct_protocol({"PT": {"suv_thresholds": [{"name": "a", "suv": 2.5}, {"name": "A", "suv": 3}]}}),
     ["modality_settings.PT.suv_thresholds[1].name: duplicate SUV threshold name 'A'"]),
    (pet_ct_protocol({"pet": {}}), ["modality_settings: keys are DICOM Modality (0008,0060) values", "'pet'"]),
    (_echo(ejection_fraction={"method": "teichholz", "end_diastolic": "LV endocardium ED",
                              "end_systolic": "LV endocardium ES"}),
     ["ejection_fraction.method: unknown ejection fraction method 'teichholz'"]),
    (_echo(ejection_fraction={"method": "area-length", "end_diastolic": "LV", "end_systolic": "LV endocardium ED"}),
     ["ejection_fraction.end_diastolic: 'LV' is not a structure of the protocol"]),
    (_echo(ejection_fraction={"method": "volumes", "end_diastolic": "LV endocardium ED",
                              "end_systolic": "LV endocardium ED"}),
     ["ejection_fraction.end_systolic: the end-systolic structure must differ"]),
    (_echo(views=[{"view": {"code_value": "399162005", "coding_scheme_designator": "SCT",
                            "code_meaning": "cranio-caudal"}}]),
     ["views[0].view.code_value: '399162005' is not a valid SNOMED CT concept id"]),
])
def test_misused_settings_views_and_ejection_fraction_are_named(data, problems):
    with pytest.raises(ProtocolError) as raised:
        Protocol.from_dict(data)
    text = str(raised.value)
    for problem in problems:
        assert problem in text


def test_ejection_fraction_needs_segment_structures():
    data = _echo()
    data["structures"].append({"label": "Apex", "kind": "landmark", "category": data["structures"][0]["category"],
                               "type": {"code_value": "128564006", "coding_scheme_designator": "SCT",
                                        "code_meaning": "Apex of left ventricle"}})
    data["ejection_fraction"]["end_systolic"] = "Apex"
    with pytest.raises(ProtocolError, match="'Apex' is a landmark structure"):
        Protocol.from_dict(data)


def test_the_shipped_echo_and_mammography_protocols():
    echo = load_protocol("lv-function-echo-us")
    rule = echo.ejection_fraction
    assert rule.method is EjectionFractionMethod.AREA_LENGTH
    ed, es = echo.structure(rule.end_diastolic), echo.structure(rule.end_systolic)
    assert ed.type == es.type == Code("87878005", "SCT", "Left ventricle")
    assert (ed.type_modifier, es.type_modifier) == (Code("416190007", "SCT", "End diastole"),
                                                    Code("416430001", "SCT", "End Systole"))
    mammography = load_protocol("mammography-screening-mg")
    assert [str(view) for view in mammography.views] == [
        "Right cranio-caudal", "Left cranio-caudal", "Right medio-lateral oblique", "Left medio-lateral oblique"]
    composition = mammography.structure("Breast composition")
    assert composition.type == Code("129715009", "SCT", "Breast composition") and composition.applies_to == ()
    assert [v.meaning for v in composition.values] == ["Almost entirely fat", "Scattered fibroglandular densities",
                                                       "Heterogeneously dense", "Extremely dense"]
    assessment = mammography.structure("BI-RADS assessment")
    assert assessment.values == load_protocol("breast-lesions-mg").structure("BI-RADS assessment").values
