"""Standardised uptake values of a PET series: the factor that turns its Bq/ml into SUV.

SUV = activity concentration (Bq/ml) x a body quantity / injected activity (Bq), the injected
activity decayed to the time the image values are decay-corrected to. The body quantity is one of
the three that PS3.16 CID 7180 and CID 7181 name SUVs after:

- ``bw``: Patient's Weight (0010,1030) in g, giving SUVbw in g/ml (DCM 126401);
- ``lbm``: the lean body mass in g by Janmahasatian et al. (Clin Pharmacokinet 2005;44:1051), the
  formula PERCIST 1.0 and the EANM guideline recommend over James's (which falls for heavy patients):
  9270 x W / (6680 + 216 x BMI) for men, 9270 x W / (8780 + 244 x BMI) for women (W in kg, BMI in
  kg/m2), from Patient's Weight, Size (0010,1020, in m) and Sex (0010,0040, M or F); SUVlbm in g/ml,
  coded as PS3.16's SUVlbm(Janma) (DCM 126405) so no reader takes it for James's;
- ``bsa``: the body surface area in cm2 by Du Bois and Du Bois (1916), 0.007184 x W^0.425 x H^0.725
  m2 (W in kg, H in cm), from Patient's Weight and Size: SUVbsa in cm2/ml (DCM 126403).

Without the attributes a type needs it is refused by name. The inputs and their rules are
those of PS3.3 C.8.9.1 (PET Series Module: Units, Decay Correction, Corrected Image, and Series Date
and Time as the reference time of every activity value) and C.8.9.2 (PET Isotope Module: the
Radiopharmaceutical Information Sequence with the injected dose, its start time and the nuclide's half
life), applied as the QIBA vendor-neutral SUV pseudo-code does:

- Units must be BQML, or CNTS with Philips' calibration in its private group "Philips PET Private Group"
  (7053,xx): the Activity Concentration Scale Factor (7053,xx09) turns the rescaled counts into Bq/ml,
  after which every rule below applies; without it, the SUV Scale Factor (7053,xx00) turns them into
  the scanner's own SUVbw (its decay arithmetic), which the other SUV types rescale by their body
  quantity over the weight. CNTS without either, or any other unit, needs vendor data this does not
  guess and is refused. The QIBA pseudo-code (and cornerstone's calculate-suv) take the SUV Scale
  Factor first where both are present; here the Bq/ml route comes first, so that every SUV type and
  decay mode is computed, and reported, by the same rules as a BQML series.
- Decay Correction START: values are corrected to the scan start, the Series Date/Time, unless the
  series time is later than the earliest Acquisition Date/Time (a series re-made after the scan), in
  which case the earliest acquisition is the start. The dose is decayed from the injection to it.
- ADMIN: values are corrected to the injection itself; the dose is used as it is.
- NONE: values are as measured; each image's dose is decayed to its own Acquisition Date/Time.

An Enhanced PET series (PS3.3 A.56, one multi-frame instance) states the same in other places: Units as the
Rescale Type of each frame's Pixel Value Transformation (C.8.22.3), attenuation and decay correction as
Attenuation Corrected and Decay Corrected (YES/NO), and the time every frame is decay-corrected to as
Decay Correction DateTime (reported as START, or ADMIN when it is the injection). Not decay-corrected
(NO, the NONE case), each frame's dose is decayed to its own Frame Acquisition DateTime, from the frame's
Frame Content in the Per-frame Functional Groups (C.7.6.16.2.2).

Anything missing or inconsistent (no injection time, a dose or weight of 0, an injection after the
scan, images that disagree on dose or weight) is an InputError naming the series and the attribute.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import EnhancedPETImageStorage
from pydicom.valuerep import DA, DT, TM

from ..dicom import header_value
from ..errors import InputError
from .instances import series_headers
from .series import ReferenceSeries

DECAY_CORRECTIONS = ("START", "ADMIN", "NONE")
#: Philips' private group of PET calibration factors (its creator, group and element offsets).
PHILIPS_PET_GROUP = (0x7053, "Philips PET Private Group")
PHILIPS_SUV_SCALE_FACTOR = 0x00
PHILIPS_ACTIVITY_CONCENTRATION_SCALE_FACTOR = 0x09


#: The SUV types (module docstring) and the unit of each.
SUV_UNITS = {"bw": "g/ml", "lbm": "g/ml", "bsa": "cm2/ml"}


@dataclass(frozen=True)
class SUVScale:
    """How to turn one PET series' values (after the rescale, in Bq/ml) into SUV of ``suv_type``.

    ``factors`` holds one factor per slice of the series (in the series' slice order); they are all
    equal except where Decay Correction is NONE. ``body`` is the body quantity the SUV is normalised
    by: the weight or lean body mass in g, or the body surface area in cm2. A series in counts (``source_units``
    CNTS) names the Philips factor that converted them (``counts_conversion``: "activity_concentration", its
    values being Bq/ml per count, or "suv", the scanner's SUVbw per count) and its values (``counts_scales``, one
    per slice); the factors then turn counts, not Bq/ml, into SUV.
    """

    factors: tuple[float, ...]
    injected_dose_bq: float
    patient_weight_kg: float
    half_life_s: float
    injection_time: datetime
    decay_correction: str
    decay_corrected_to: datetime | None  # None for NONE: each image at its own acquisition time
    suv_type: str = "bw"
    body: float | None = None
    patient_size_m: float | None = None
    patient_sex: str | None = None
    source_units: str = "BQML"
    counts_conversion: str | None = None
    counts_scales: tuple[float, ...] = ()

    @property
    def units(self) -> str:
        return SUV_UNITS[self.suv_type]

    @property
    def factor(self) -> float | None:
        """The one factor of the whole series, or None when it differs by image (Decay Correction NONE)."""
        return self.factors[0] if len(set(self.factors)) == 1 else None

    def to_json(self) -> dict[str, Any]:
        """The ``pet suv --json`` object of the CLI contract."""
        payload: dict[str, Any] = {
            "suv_type": self.suv_type,
            "factor": self.factor,
            "units": self.units,
            "injected_dose_bq": self.injected_dose_bq,
            "patient_weight_kg": self.patient_weight_kg,
            "half_life_s": self.half_life_s,
            "injection_time": self.injection_time.isoformat(),
            "decay_correction": self.decay_correction,
            "decay_corrected_to": self.decay_corrected_to.isoformat() if self.decay_corrected_to else None,
        }
        if self.factor is None:
            payload["factors"] = list(self.factors)
        if self.source_units != "BQML":
            payload.update(source_units=self.source_units, counts_conversion=self.counts_conversion,
                           counts_scale=self.counts_scales[0] if len(set(self.counts_scales)) == 1
                           else list(self.counts_scales))
        if self.suv_type == "lbm":
            payload.update(patient_size_m=self.patient_size_m, patient_sex=self.patient_sex,
                           lean_body_mass_kg=self.body / 1000.0)
        elif self.suv_type == "bsa":
            payload.update(patient_size_m=self.patient_size_m, body_surface_area_m2=self.body / 1e4)
        return payload


def pet_suv_scale(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], *,
                  series_uid: str | None = None, suv_type: str = "bw") -> SUVScale:
    """The SUV scale of the PET series in ``paths``; per-slice factors follow the volume's slice order."""
    name, headers = series_headers(paths, series_uid=series_uid)
    if not any(_is_enhanced(ds) for ds in headers):  # one factor needs no slice order
        scale = suv_scale(headers, f"series {header_value(headers[0], 'SeriesInstanceUID', '')} ({name})", suv_type)
        if scale.factor is not None:
            return scale
    return series_suv_scale(ReferenceSeries(headers, name=name), suv_type)


def series_suv_scale(series: ReferenceSeries, suv_type: str = "bw") -> SUVScale:
    """The SUV scale of a PET series opened as a volume (its factors in the volume's slice order)."""
    by_uid = {str(header_value(ds, "SOPInstanceUID")): ds for ds in series.datasets}
    return suv_scale([by_uid[source.sop_instance_uid] for source in series.slices], series.description, suv_type,
                     frames=[source.frame_number for source in series.slices])


def suv_scale(slices: Sequence[Dataset], description: str, suv_type: str = "bw", *,
              frames: Sequence[int | None] | None = None) -> SUVScale:
    """The SUV scale of a PET series, from the headers of its slices (one per slice, in slice order;
    a multi-frame instance repeated for each of its frames, whose numbers ``frames`` gives)."""
    if suv_type not in SUV_UNITS:
        raise InputError(f"SUV type {suv_type} is not one of {', '.join(SUV_UNITS)}")
    if not slices:
        raise InputError(f"{description} holds no image")
    first = slices[0]
    modality = str(header_value(first, "Modality", ""))
    if modality != "PT":
        raise InputError(f"{description} is {modality or 'of no modality'}, not PET (PT); SUV is for PET images")
    frames = list(frames) if frames is not None else [None] * len(slices)
    enhanced = _is_enhanced(first)
    units = _enhanced_units(slices, frames, description) if enhanced else _same(slices, "Units", description)
    counts = _counts_conversion(slices, description) if units == "CNTS" else None
    if units != "BQML" and counts is None:
        raise InputError(
            f"{description} has Units {units or 'missing'}; SUV needs activity concentration in Bq/ml (BQML), "
            "and converting other units takes the scanner vendor's calibration, which the images do not carry "
            "(for CNTS, Philips' Activity Concentration or SUV Scale Factor, (7053,1009) or (7053,1000)); "
            "reconstruct or export the series in BQML")
    decay_correction, stated = _enhanced_decay(slices, description) if enhanced \
        else (_decay_correction(slices, description), None)
    weight = _positive(_same_number(slices, "PatientWeight", description), "Patient's Weight (0010,1030), in kg",
                       description)
    radiopharmaceutical = _radiopharmaceutical(first, description)
    dose = _positive(_number(radiopharmaceutical, "RadionuclideTotalDose"),
                     "Radionuclide Total Dose (0018,1074), the injected activity in Bq", description)
    half_life = _positive(_number(radiopharmaceutical, "RadionuclideHalfLife"),
                          "Radionuclide Half Life (0018,1075), in s", description)
    series_time = _date_time(first, "SeriesDate", "SeriesTime")
    injection = _injection_time(radiopharmaceutical, series_time, description)
    body, size, sex = _body(suv_type, slices, weight, description)
    per_bq = body / dose

    if stated is not None:  # an Enhanced PET decay-corrected to the time it states
        decay_correction = "ADMIN" if stated == injection else "START"

    def scale(factors: Sequence[float], corrected_to: datetime | None) -> SUVScale:
        if counts is None:
            return SUVScale(tuple(factors), dose, weight, half_life, injection, decay_correction, corrected_to,
                            suv_type, body, size, sex)
        kind, per_count = counts
        if kind == "suv":  # the scanner's SUVbw per count, rescaled to this type's body quantity
            factors = [value * body / (weight * 1000.0) for value in per_count]
        else:  # Bq/ml per count, then this SUV per Bq/ml
            factors = [value * factor for value, factor in zip(per_count, factors, strict=True)]
        return SUVScale(tuple(factors), dose, weight, half_life, injection, decay_correction, corrected_to, suv_type,
                        body, size, sex, "CNTS", kind, tuple(per_count))

    if decay_correction == "ADMIN":
        return scale([per_bq] * len(slices), injection)
    if stated is not None:
        return scale([per_bq / _decayed(stated, injection, half_life, description)] * len(slices), stated)
    acquisitions = [_frame_acquisition(ds, frame) if enhanced else _date_time(ds, "AcquisitionDate", "AcquisitionTime")
                    for ds, frame in zip(slices, frames, strict=True)]
    if decay_correction == "START":
        start = _scan_start(series_time, acquisitions, description)
        return scale([per_bq / _decayed(start, injection, half_life, description)] * len(slices), start)
    if any(time is None for time in acquisitions):
        missing = ", ".join(str(frame) for frame, time in zip(frames, acquisitions, strict=True) if time is None)
        lacking = (f"(Decay Corrected NO) and frames {missing} have no Frame Acquisition DateTime (0018,9074) in "
                   "their Frame Content") if enhanced else \
            "(Decay Correction NONE) and some images have no Acquisition Date and Time (0008,0022/0032)"
        raise InputError(f"{description} is not decay-corrected {lacking} to decay the dose to; SUV cannot be computed")
    return scale([per_bq / _decayed(time, injection, half_life, description) for time in acquisitions], None)


def _is_enhanced(ds: Dataset) -> bool:
    return str(header_value(ds, "SOPClassUID", "")) == EnhancedPETImageStorage


def _decay_correction(slices: Sequence[Dataset], description: str) -> str:
    """Decay Correction (0054,1102) of a PET Image series, checked against its Corrected Image."""
    decay_correction = _same(slices, "DecayCorrection", description)
    if decay_correction not in DECAY_CORRECTIONS:
        raise InputError(f"{description} has Decay Correction (0054,1102) {decay_correction or 'missing'}; SUV needs "
                         f"one of {', '.join(DECAY_CORRECTIONS)} to know when the dose is counted from")
    _check_corrections(slices[0], decay_correction, description)
    return decay_correction


def _enhanced_decay(slices: Sequence[Dataset], description: str) -> tuple[str, datetime | None]:
    """An Enhanced PET's decay correction: ("NONE", None) when Decay Corrected is NO, else ("START", the Decay
    Correction DateTime every frame is corrected to); refused unless it is attenuation-corrected."""
    attenuation = _same(slices, "AttenuationCorrected", description)
    if attenuation != "YES":
        raise InputError(f"{description} is not attenuation-corrected (Attenuation Corrected (0018,9759) "
                         f"{attenuation or 'missing'}); its values are not activity concentrations and give no SUV")
    corrected = _same(slices, "DecayCorrected", description)
    if corrected == "NO":
        return "NONE", None
    if corrected != "YES":
        raise InputError(f"{description} has Decay Corrected (0018,9758) {corrected or 'missing'}; SUV needs YES or "
                         "NO to know when the dose is counted from")
    text = str(slices[0].get("DecayCorrectionDateTime", "") or "")
    if not text:
        raise InputError(f"{description} is decay-corrected but has no Decay Correction DateTime (0018,9701), the time "
                         "its values are corrected to; SUV cannot be computed")
    return "START", _naive(DT(text))


def _enhanced_units(slices: Sequence[Dataset], frames: Sequence[int | None], description: str) -> str:
    """The units of an Enhanced PET's frames: the Rescale Type of their Pixel Value Transformation (one for all)."""
    units = set()
    for ds, frame in zip(slices, frames, strict=True):
        transformation = _frame_group(ds, frame, "PixelValueTransformationSequence")
        units.add(str(transformation.get("RescaleType", "") if transformation is not None else "").strip().upper())
    if len(units) > 1:
        raise InputError(f"{description}: frames disagree on their units (Rescale Type {', '.join(sorted(units))}); "
                         "SUV needs one value for the series")
    return units.pop()


def _frame_acquisition(ds: Dataset, frame: int | None) -> datetime | None:
    """Frame Acquisition DateTime (0018,9074) of one frame of an enhanced instance, from its Frame Content."""
    content = _frame_group(ds, frame, "FrameContentSequence")
    text = str(content.get("FrameAcquisitionDateTime", "") or "") if content is not None else ""
    return _naive(DT(text)) if text else None


def _frame_group(ds: Dataset, frame: int | None, keyword: str) -> Dataset | None:
    """The functional group macro ``keyword`` of frame ``frame`` (1-based): its own, else the shared one."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = ds.get("SharedFunctionalGroupsSequence") or []
    for groups in ([per_frame[frame - 1]] if frame is not None and frame <= len(per_frame) else []) + list(shared[:1]):
        items = groups.get(keyword)
        if items:
            return items[0]
    return None


def _counts_conversion(slices: Sequence[Dataset], description: str) -> tuple[str, list[float]] | None:
    """Philips' factor of a CNTS series, per slice: ("activity_concentration", Bq/ml per count) where every slice
    has (7053,xx09), else ("suv", SUVbw per count) where every slice has (7053,xx00); None without either."""
    for kind, offset in (("activity_concentration", PHILIPS_ACTIVITY_CONCENTRATION_SCALE_FACTOR),
                         ("suv", PHILIPS_SUV_SCALE_FACTOR)):
        values = [_philips_factor(ds, offset) for ds in slices]
        if all(value is None for value in values):
            continue
        if any(value is None or not value > 0 for value in values):
            raise InputError(f"{description} is in counts (CNTS) and some images lack a positive Philips "
                             f"(7053,10{offset:02x}) {'SUV' if kind == 'suv' else 'Activity Concentration'} Scale "
                             "Factor, which converts them; SUV needs it on every image")
        return kind, values
    return None


def _philips_factor(ds: Dataset, offset: int) -> float | None:
    """A number in Philips' PET private group, wherever its creator reserved the block; None when absent."""
    group, creator = PHILIPS_PET_GROUP
    try:
        element = ds.private_block(group, creator)[offset]
    except KeyError:
        return None
    value = element.value
    if isinstance(value, bytes):  # implicit VR, or a VR pydicom does not know for the tag: DS text
        value = value.decode("ascii", "replace").strip(" \0")
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def lean_body_mass_kg(weight_kg: float, size_m: float, sex: str) -> float:
    """Janmahasatian et al. 2005: 9270 W / (6680 + 216 BMI) for men, 9270 W / (8780 + 244 BMI) for women."""
    bmi = weight_kg / size_m ** 2
    return 9270.0 * weight_kg / ((6680.0 + 216.0 * bmi) if sex == "M" else (8780.0 + 244.0 * bmi))


def body_surface_area_m2(weight_kg: float, size_m: float) -> float:
    """Du Bois and Du Bois 1916: 0.007184 x W^0.425 x H^0.725 (W in kg, H in cm)."""
    return 0.007184 * weight_kg ** 0.425 * (size_m * 100.0) ** 0.725


def _body(suv_type: str, slices: Sequence[Dataset], weight: float,
          description: str) -> tuple[float, float | None, str | None]:
    """The body quantity of ``suv_type`` (g, or cm2 for bsa), with the size and sex it came from."""
    if suv_type == "bw":
        return weight * 1000.0, None, None
    size = _positive(_same_number(slices, "PatientSize", description),
                     f"Patient's Size (0010,1020), in m, which SUV{suv_type} needs", description)
    if size > 3.0:
        raise InputError(f"{description} has Patient's Size {size:g}, which is not a height in metres (PS3.3 "
                         "C.7.2.2 states it in m; a value in cm was probably written); SUV"
                         f"{suv_type} cannot be computed from it")
    if suv_type == "bsa":
        return body_surface_area_m2(weight, size) * 1e4, size, None
    sex = _same(slices, "PatientSex", description)
    if sex not in ("M", "F"):
        raise InputError(f"{description} has Patient's Sex (0010,0040) {sex or 'missing'}; SUVlbm needs M or F "
                         "(the lean body mass formula differs by sex); use SUVbw or SUVbsa")
    return lean_body_mass_kg(weight, size, sex) * 1000.0, size, sex


def _decayed(time: datetime, injection: datetime, half_life: float, description: str) -> float:
    """The fraction of the injected activity left at ``time``: 2^-(elapsed / half life)."""
    elapsed = (time - injection).total_seconds()
    if elapsed < 0:
        raise InputError(f"{description}: the injection ({injection.isoformat()}) is after the scan "
                         f"({time.isoformat()}); check Radiopharmaceutical Start Date Time and the series' times")
    return math.pow(2.0, -elapsed / half_life)


def _scan_start(series_time: datetime | None, acquisitions: list[datetime | None], description: str) -> datetime:
    known = [time for time in acquisitions if time is not None]
    earliest = min(known) if known else None
    if series_time is None and earliest is None:
        raise InputError(f"{description} has neither Series Date/Time nor Acquisition Date/Time; the time its "
                         "values are decay-corrected to (the scan start) is unknown")
    if series_time is None or (earliest is not None and series_time > earliest):
        return earliest
    return series_time


def _check_corrections(ds: Dataset, decay_correction: str, description: str) -> None:
    """Corrected Image (0028,0051) must agree with Decay Correction and include attenuation correction."""
    corrected = ds.get("CorrectedImage")
    if corrected is None:
        return
    applied = {str(value).upper() for value in (corrected if isinstance(corrected, MultiValue) else [corrected])}
    if "ATTN" not in applied:
        raise InputError(f"{description} is not attenuation-corrected (Corrected Image lacks ATTN); its values are "
                         "not activity concentrations and give no SUV")
    if ("DECY" in applied) != (decay_correction != "NONE"):
        raise InputError(f"{description}: Corrected Image {'includes' if 'DECY' in applied else 'lacks'} DECY but "
                         f"Decay Correction is {decay_correction}; the header contradicts itself about decay")


def _radiopharmaceutical(ds: Dataset, description: str) -> Dataset:
    items = ds.get("RadiopharmaceuticalInformationSequence") or []
    if not items:
        raise InputError(f"{description} has no Radiopharmaceutical Information Sequence (0054,0016): the injected "
                         "dose, its time and the nuclide's half life are needed for SUV")
    if len(items) > 1:
        raise InputError(f"{description} lists {len(items)} radiopharmaceuticals; SUV is defined for one injection")
    return items[0]


def _injection_time(item: Dataset, series_time: datetime | None, description: str) -> datetime:
    """Radiopharmaceutical Start DateTime, else Start Time on the Series Date (QIBA's fallback)."""
    text = str(item.get("RadiopharmaceuticalStartDateTime", "") or "")
    if text:
        return _naive(DT(text))
    text = str(item.get("RadiopharmaceuticalStartTime", "") or "")
    if text and series_time is not None:
        return datetime.combine(series_time.date(), TM(text))
    raise InputError(f"{description} has no injection time (Radiopharmaceutical Start DateTime (0018,1078) or "
                     "Start Time (0018,1072)); the dose cannot be decayed to the scan, so SUV cannot be computed")


def _date_time(ds: Dataset, date_keyword: str, time_keyword: str) -> datetime | None:
    date, time = str(ds.get(date_keyword, "") or ""), str(ds.get(time_keyword, "") or "")
    if not date or not time:
        return None
    return datetime.combine(DA(date), TM(time))


def _naive(value: datetime) -> datetime:
    """Times in the series are local without offsets; an offset on the injection time alone is dropped."""
    return value.replace(tzinfo=None)


def _same(slices: Sequence[Dataset], keyword: str, description: str) -> str:
    values = {str(header_value(ds, keyword, "") or "").strip().upper() for ds in slices}
    if len(values) > 1:
        raise InputError(f"{description}: images disagree on {keyword} ({', '.join(sorted(values))}); "
                         "SUV needs one value for the series")
    return values.pop()


def _same_number(slices: Sequence[Dataset], keyword: str, description: str) -> float | None:
    values = {_number(ds, keyword) for ds in slices}
    if len(values) > 1:
        raise InputError(f"{description}: images disagree on {keyword} ({sorted(values, key=str)}); "
                         "SUV needs one value for the series")
    return values.pop()


def _number(ds: Dataset, keyword: str) -> float | None:
    value = header_value(ds, keyword)
    return None if value in (None, "") else float(value)


def _positive(value: float | None, what: str, description: str) -> float:
    if value is None or not value > 0:
        raise InputError(f"{description} has {'no' if value is None else f'a zero or negative ({value:g})'} "
                         f"{what}; SUV cannot be computed without it")
    return value
