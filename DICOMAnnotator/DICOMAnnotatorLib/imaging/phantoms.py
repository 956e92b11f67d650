"""Synthetic but standard-conformant CT and PET series and an ultrasound cine for the demo and the tests.

The product cannot depend on third-party test data, so the demo makes its own: a
phantom (body, liver, lesion, vertebra) in any orientation, written as real DICOM CT
files (one file per slice) or as one Enhanced CT multi-frame instance, and PET images of any
activity with the injection, decay and weight that SUV is computed from (one file per slice, or one
Enhanced PET instance whose frames carry their times in per-frame functional groups). No real patient
is involved; the patient attributes are obviously fictitious. The enhanced instances hold what the
readers here use (geometry, rescale, times, decay) rather than every macro of their IODs.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    EnhancedPETImageStorage,
    ExplicitVRLittleEndian,
    PositronEmissionTomographyImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

from .. import IMPLEMENTATION_CLASS_UID, __version__
from ..dicom import Code, code_item
from .geometry import VolumeGeometry
from .segmentation import SegmentDescription

PHANTOM_SEGMENTS = (
    SegmentDescription(1, "Liver", Code("123037004", "SCT", "Anatomical Structure"),
                       Code("10200004", "SCT", "Liver"), color=(221, 130, 101)),
    SegmentDescription(2, "Liver lesion", Code("49755003", "SCT", "Morphologically Altered Structure"),
                       Code("52988006", "SCT", "Lesion"),
                       anatomic_region=Code("10200004", "SCT", "Liver"), color=(255, 255, 0)),
    SegmentDescription(3, "Vertebra", Code("123037004", "SCT", "Anatomical Structure"),
                       Code("51282000", "SCT", "Vertebra"), color=(241, 214, 145)),
)

_ORIENTATIONS = {
    # directions of the i (column), j (row) and k (slice) axes in LPS; k = i x j as in DICOM
    "axial": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "coronal": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    "sagittal": ((0, 1, 0), (0, 0, -1), (-1, 0, 0)),
}


def phantom_geometry(
    size: Sequence[int] = (64, 48, 24),
    spacing: Sequence[float] = (0.9, 0.7, 2.5),
    orientation: str = "axial",
    origin: Sequence[float] = (-28.0, -16.0, -30.0),
) -> VolumeGeometry:
    """A grid for the phantom; ``orientation`` is axial, coronal, sagittal or oblique.

    Spacings differ on every axis on purpose, so that any swap of axes shows in tests.
    """
    if orientation == "oblique":
        directions = _rotation(axis=(1.0, 0.4, 0.2), degrees=25.0) @ np.eye(3)
        axes = tuple(directions[:, n] for n in range(3))
    elif orientation in _ORIENTATIONS:
        axes = _ORIENTATIONS[orientation]
    else:
        raise ValueError(f"Unknown orientation {orientation!r}; use axial, coronal, sagittal or oblique")
    return VolumeGeometry.from_axes(size, origin, spacing, axes)


def phantom_volume(geometry: VolumeGeometry) -> tuple[np.ndarray, np.ndarray]:
    """CT numbers (int16 HU, ``[k, j, i]``) and the matching label map of PHANTOM_SEGMENTS.

    Shapes are defined in patient millimetres around the grid centre, so they are the same
    anatomy whatever the orientation of the grid.
    """
    k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in geometry.array_shape), indexing="ij")
    index = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)
    centre = geometry.index_to_lps(np.array([(n - 1) / 2 for n in geometry.size]))[0]
    extent = np.asarray(geometry.spacing) * np.asarray(geometry.size)
    # Local coordinates (mm) along the grid axes, centred: anatomy follows the grid.
    local = (geometry.index_to_lps(index) - centre) @ geometry.directions
    x, y, z = (local[:, n].reshape(geometry.array_shape) / (extent[n] / 2) for n in range(3))
    hu = np.full(geometry.array_shape, -1000, dtype=np.int16)
    labels = np.zeros(geometry.array_shape, dtype=np.uint8)
    body = (x / 0.95) ** 2 + (y / 0.9) ** 2 <= 1
    hu[body] = 30
    liver = ((x + 0.3) / 0.45) ** 2 + ((y + 0.1) / 0.4) ** 2 + (z / 0.6) ** 2 <= 1
    hu[liver] = 60
    labels[liver] = 1
    lesion = ((x + 0.35) / 0.15) ** 2 + ((y + 0.05) / 0.15) ** 2 + (z / 0.25) ** 2 <= 1
    hu[lesion] = 110
    labels[lesion] = 2
    vertebra = ((x - 0.05) / 0.15) ** 2 + ((y - 0.55) / 0.15) ** 2 <= 1
    vertebra &= np.abs(z) <= 0.8
    hu[vertebra] = 700
    labels[vertebra] = 3
    rng = np.random.default_rng(7)
    hu = (hu + rng.normal(0, 8, hu.shape)).round().astype(np.int16)
    return hu, labels


def ct_datasets(
    geometry: VolumeGeometry,
    voxels: np.ndarray,
    *,
    enhanced: bool = False,
    patient_name: str = "Phantom^Demo",
    patient_id: str = "PHANTOM-001",
    study_uid: str | None = None,
    series_uid: str | None = None,
) -> list[Dataset]:
    """The volume as CT Image instances (one per slice) or one Enhanced CT instance."""
    if voxels.shape != geometry.array_shape:
        raise ValueError(f"Voxels of shape {voxels.shape} do not fit the grid {geometry.array_shape}")
    common = _common_attributes(geometry, patient_name, patient_id, study_uid, series_uid)
    if enhanced:
        return [_enhanced_ct(common, geometry, voxels)]
    datasets = []
    for k in range(geometry.size[2]):
        ds = _new_instance(CTImageStorage, common)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        _place_slice(ds, geometry, k)
        ds.KVP = "120"
        ds.AcquisitionNumber = 1
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        _set_pixels(ds, voxels[k])
        datasets.append(ds)
    return datasets


@dataclass(frozen=True)
class PetAcquisition:
    """What a PET header says about the injection and the scan (PS3.3 C.8.9.1 and C.8.9.2).

    ``frame_seconds`` is each slice's Acquisition Time after the scan start (a whole-body scan
    moving through bed positions); ``decay_correction`` is START, ADMIN or NONE.
    """

    injection: datetime
    scan_start: datetime
    dose_bq: float = 370e6
    half_life_s: float = 6586.2  # fluorine-18
    weight_kg: float | None = 70.0
    decay_correction: str = "START"
    units: str = "BQML"
    frame_seconds: tuple[float, ...] | None = None


def pet_datasets(geometry: VolumeGeometry, activity: np.ndarray, acquisition: PetAcquisition, *,
                 patient_name: str = "Phantom^Demo", patient_id: str = "PHANTOM-001",
                 study_uid: str | None = None, frame_of_reference_uid: str | None = None,
                 enhanced: bool = False) -> list[Dataset]:
    """PET Image instances (one per slice) whose rescaled values are ``activity`` (``[k, j, i]``, in the
    acquisition's Units), each slice with its own Rescale Slope as scanners write them; with ``enhanced``,
    one Enhanced PET Image instance of one frame per slice (PS3.3 A.56)."""
    if activity.shape != geometry.array_shape:
        raise ValueError(f"Activity of shape {activity.shape} does not fit the grid {geometry.array_shape}")
    common = _common_attributes(geometry, patient_name, patient_id, study_uid, None)
    if frame_of_reference_uid:
        common.FrameOfReferenceUID = frame_of_reference_uid
    common.Modality = "PT"
    common.SeriesDescription = "Phantom PET"
    common.SeriesDate = acquisition.scan_start.strftime("%Y%m%d")
    common.SeriesTime = acquisition.scan_start.strftime("%H%M%S.%f")
    if acquisition.weight_kg is not None:
        common.PatientWeight = _ds_number(acquisition.weight_kg)
    common.RadiopharmaceuticalInformationSequence = [_radiopharmaceutical(acquisition)]
    if enhanced:
        return [_enhanced_pet(common, geometry, activity, acquisition)]
    common.Units = acquisition.units
    common.CountsSource = "EMISSION"
    common.SeriesType = ["STATIC", "IMAGE"]
    common.NumberOfSlices = geometry.size[2]
    common.CorrectedImage = ["ATTN", "DECY"] if acquisition.decay_correction != "NONE" else ["ATTN"]
    common.DecayCorrection = acquisition.decay_correction
    common.CollimatorType = "NONE"
    del common.PatientPosition  # NM/PET Patient Orientation (C.8.4.6) states it by code instead
    common.PatientOrientationCodeSequence = []
    common.PatientGantryRelationshipCodeSequence = []
    offsets = acquisition.frame_seconds or (0.0,) * geometry.size[2]
    datasets = []
    for k in range(geometry.size[2]):
        ds = _new_instance(PositronEmissionTomographyImageStorage, common)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.InstanceNumber = k + 1
        ds.ImageIndex = k + 1
        _place_slice(ds, geometry, k)
        acquired = acquisition.scan_start + timedelta(seconds=offsets[k])
        ds.AcquisitionDate = acquired.strftime("%Y%m%d")
        ds.AcquisitionTime = acquired.strftime("%H%M%S.%f")
        ds.FrameReferenceTime = _ds_number(offsets[k] * 1000.0)
        ds.ActualFrameDuration = 120000
        if acquisition.decay_correction != "NONE":
            ds.DecayFactor = "1"
        slope = _pet_slope(activity[k])
        ds.RescaleIntercept = "0"
        ds.RescaleSlope = _ds_number(slope)
        _set_pixels(ds, np.round(activity[k] / slope).astype(np.int16))
        datasets.append(ds)
    return datasets


def _radiopharmaceutical(acquisition: PetAcquisition) -> Dataset:
    """The Radiopharmaceutical Information Sequence item (PS3.3 C.8.9.2, C.8.22.4): fluorine-18 FDG."""
    item = Dataset()
    item.RadiopharmaceuticalStartTime = acquisition.injection.strftime("%H%M%S.%f")
    item.RadiopharmaceuticalStartDateTime = acquisition.injection.strftime("%Y%m%d%H%M%S.%f")
    item.RadionuclideTotalDose = _ds_number(acquisition.dose_bq)
    item.RadionuclideHalfLife = _ds_number(acquisition.half_life_s)
    item.RadionuclidePositronFraction = "0.9673"
    item.RadionuclideCodeSequence = [code_item(Code("77004003", "SCT", "^18^Fluorine"))]
    return item


def _pet_slope(values: np.ndarray) -> float:
    """A Rescale Slope that fits ``values`` into int16 with room to spare, as scanners choose per slice."""
    return (float(np.abs(values).max()) or 1.0) / 32000.0


def _enhanced_pet(common: Dataset, geometry: VolumeGeometry, activity: np.ndarray,
                  acquisition: PetAcquisition) -> Dataset:
    """One Enhanced PET Image instance: the Enhanced PET Image Module's Decay Corrected and Decay Correction
    DateTime (C.8.22.3: the scan start for START, the injection for ADMIN; NO for NONE), each frame's Frame
    Acquisition and Reference DateTime in its Frame Content (C.7.6.16.2.2), and its Rescale Slope with the units
    as Rescale Type in its Pixel Value Transformation (the Enhanced PET IOD states Units there)."""
    ds = _new_instance(EnhancedPETImageStorage, common)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.InstanceNumber = 1
    ds.NumberOfFrames = geometry.size[2]
    ds.ContentQualification = "RESEARCH"
    ds.BurnedInAnnotation = "NO"
    ds.PresentationLUTShape = "IDENTITY"
    ds.LossyImageCompression = "00"
    ds.CountsSource = "EMISSION"
    ds.AcquisitionDateTime = acquisition.scan_start.strftime("%Y%m%d%H%M%S.%f")
    ds.AttenuationCorrected = "YES"
    ds.DecayCorrected = "NO" if acquisition.decay_correction == "NONE" else "YES"
    if ds.DecayCorrected == "YES":
        reference = acquisition.injection if acquisition.decay_correction == "ADMIN" else acquisition.scan_start
        ds.DecayCorrectionDateTime = reference.strftime("%Y%m%d%H%M%S.%f")
    ds.SharedFunctionalGroupsSequence = [_shared_plane_groups(geometry)]
    offsets = acquisition.frame_seconds or (0.0,) * geometry.size[2]
    frames, pixels = [], []
    for k in range(geometry.size[2]):
        frame, content = _frame_groups(geometry, k)
        acquired = acquisition.scan_start + timedelta(seconds=offsets[k])
        content.FrameAcquisitionDateTime = acquired.strftime("%Y%m%d%H%M%S.%f")
        content.FrameReferenceDateTime = (acquired + timedelta(seconds=60)).strftime("%Y%m%d%H%M%S.%f")
        content.FrameAcquisitionDuration = 120000.0
        slope = _pet_slope(activity[k])
        transformation = Dataset()
        transformation.RescaleIntercept = "0"
        transformation.RescaleSlope = _ds_number(slope)
        transformation.RescaleType = acquisition.units
        frame.PixelValueTransformationSequence = [transformation]
        frames.append(frame)
        pixels.append(np.round(activity[k] / slope).astype(np.int16))
    ds.PerFrameFunctionalGroupsSequence = frames
    _set_pixels(ds, np.stack(pixels))
    return ds


def write_datasets(datasets: Sequence[Dataset], folder: str | os.PathLike[str]) -> list[Path]:
    """Write each dataset as ``<folder>/<InstanceNumber>.dcm`` (Part 10, explicit VR little endian)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = folder / f"{int(ds.InstanceNumber):04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_phantom_series(folder: str | os.PathLike[str], geometry: VolumeGeometry | None = None,
                         ) -> tuple[VolumeGeometry, np.ndarray, np.ndarray]:
    """A phantom CT series written into ``folder`` (the demo's and the self-tests' case).

    Returns its grid, Hounsfield units and label map (``PHANTOM_SEGMENTS``' values), [slice, row, column].
    """
    geometry = geometry or phantom_geometry()
    hu, labels = phantom_volume(geometry)
    write_datasets(ct_datasets(geometry, hu), folder)
    return geometry, hu, labels


def ultrasound_cine_dataset(frames: int = 12, rows: int = 96, columns: int = 128, *, mm_per_pixel: float = 0.3,
                            frame_time_ms: float = 40.0, patient_name: str = "Phantom^Echo",
                            patient_id: str = "PHANTOM-ECHO", study_uid: str | None = None) -> Dataset:
    """An ultrasound cine (US Multi-frame Image, PS3.3 A.7) of a "ventricle": a dark ellipse whose radii shrink and
    grow once over the loop (end diastole at frame 1, end systole half way), in a speckled greyscale sector.

    Calibrated as scanners calibrate ultrasound: one 2D region of the Sequence of Ultrasound Regions with
    ``mm_per_pixel`` as Physical Delta X and Y in centimetres (C.8.5.5.1), no Pixel Spacing; Frame Time and Cine
    Rate give the loop's timing (C.7.6.5).
    """
    common = _common_attributes(phantom_geometry(), patient_name, patient_id, study_uid, None)
    for keyword in ("FrameOfReferenceUID", "PositionReferenceIndicator", "PatientPosition"):
        delattr(common, keyword)
    common.Modality, common.SeriesDescription, common.BodyPartExamined = "US", "Phantom echo cine", "HEART"
    ds = _new_instance(UltrasoundMultiFrameImageStorage, common)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "CHEST", "0001"]  # transthoracic: through the chest
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.NumberOfFrames = frames
    ds.FrameIncrementPointer = Tag("FrameTime")
    ds.FrameTime = _ds_number(frame_time_ms)
    ds.CineRate = int(round(1000.0 / frame_time_ms))
    ds.RecommendedDisplayFrameRate = ds.CineRate
    ds.LossyImageCompression = "00"
    region = Dataset()
    region.RegionSpatialFormat = 1  # 2D
    region.RegionDataType = 1  # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = columns - 1, rows - 1
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
    region.PhysicalDeltaX = region.PhysicalDeltaY = mm_per_pixel / 10.0
    region.ReferencePixelX0, region.ReferencePixelY0 = columns // 2, 0
    ds.SequenceOfUltrasoundRegions = [region]
    rng = np.random.default_rng(7)
    j, i = np.mgrid[0:rows, 0:columns]
    loop = []
    for frame in range(frames):
        squeeze = 0.75 + 0.25 * np.cos(2 * np.pi * frame / frames)  # 1 at end diastole, 0.5 at end systole
        cavity = ((i - columns / 2) / (columns * 0.22 * squeeze)) ** 2 + ((j - rows * 0.55) / (rows * 0.35)) ** 2 <= 1
        image = np.clip(rng.normal(140, 25, (rows, columns)), 0, 255)
        image[cavity] = np.clip(rng.normal(20, 8, int(cavity.sum())), 0, 255)
        loop.append(image)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.asarray(loop, dtype=np.uint8).tobytes()
    return ds


# --------------------------------------------------------------------- internals
def _common_attributes(geometry: VolumeGeometry, patient_name: str, patient_id: str,
                       study_uid: str | None, series_uid: str | None) -> Dataset:
    now = datetime.now()
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.StudyDate = now.strftime("%Y%m%d")
    ds.StudyTime = now.strftime("%H%M%S")
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.StudyDescription = "Synthetic phantom"
    ds.Modality = "CT"
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesNumber = 1
    ds.SeriesDescription = "Phantom CT"
    ds.FrameOfReferenceUID = generate_uid()
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "DICOMAnnotator"
    ds.ManufacturerModelName = "Synthetic phantom"
    ds.SoftwareVersions = __version__
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.StudyTime
    ds.BodyPartExamined = "ABDOMEN"
    ds.PatientPosition = "HFS"
    return ds


def _new_instance(sop_class_uid: str, common: Dataset) -> Dataset:
    ds = copy.deepcopy(common)  # each instance its own sequence items
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class_uid
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    return ds


def _place_slice(ds: Dataset, geometry: VolumeGeometry, k: int) -> None:
    """The Image Plane Module of slice ``k`` (PS3.3 C.7.6.2)."""
    ds.ImagePositionPatient = _ds_numbers(geometry.index_to_lps([0, 0, k])[0])
    ds.ImageOrientationPatient = _ds_numbers(np.concatenate([geometry.directions[:, 0], geometry.directions[:, 1]]))
    ds.SliceLocation = _ds_number(float(np.dot(geometry.index_to_lps([0, 0, k])[0], geometry.directions[:, 2])))
    ds.PixelSpacing = _ds_numbers([geometry.spacing[1], geometry.spacing[0]])
    ds.SliceThickness = _ds_number(geometry.spacing[2])


def _set_pixels(ds: Dataset, pixels: np.ndarray) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[-2]), int(pixels.shape[-1])
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<i2").tobytes()


def _enhanced_ct(common: Dataset, geometry: VolumeGeometry, voxels: np.ndarray) -> Dataset:
    ds = _new_instance(EnhancedCTImageStorage, common)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.InstanceNumber = 1
    ds.NumberOfFrames = geometry.size[2]
    ds.ContentQualification = "RESEARCH"
    ds.AcquisitionNumber = 1
    ds.BurnedInAnnotation = "NO"
    ds.PresentationLUTShape = "IDENTITY"
    ds.LossyImageCompression = "00"
    ds.VolumetricProperties = "VOLUME"
    ds.VolumeBasedCalculationTechnique = "NONE"
    shared = _shared_plane_groups(geometry)
    transformation = Dataset()
    transformation.RescaleIntercept = "0"
    transformation.RescaleSlope = "1"
    transformation.RescaleType = "HU"
    shared.PixelValueTransformationSequence = [transformation]
    ds.SharedFunctionalGroupsSequence = [shared]
    dimension_uid = generate_uid()
    index = Dataset()
    index.DimensionOrganizationUID = dimension_uid
    index.DimensionIndexPointer = 0x00200032
    index.FunctionalGroupPointer = 0x00209113
    organization = Dataset()
    organization.DimensionOrganizationUID = dimension_uid
    ds.DimensionOrganizationSequence = [organization]
    ds.DimensionIndexSequence = [index]
    ds.PerFrameFunctionalGroupsSequence = [_frame_groups(geometry, k)[0] for k in range(geometry.size[2])]
    _set_pixels(ds, voxels)
    return ds


def _shared_plane_groups(geometry: VolumeGeometry) -> Dataset:
    """The Shared Functional Groups item of a volume's frames: Pixel Measures and Plane Orientation."""
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = _ds_numbers([geometry.spacing[1], geometry.spacing[0]])
    measures.SliceThickness = _ds_number(geometry.spacing[2])
    shared.PixelMeasuresSequence = [measures]
    orientation = Dataset()
    orientation.ImageOrientationPatient = _ds_numbers(np.concatenate([geometry.directions[:, 0],
                                                                      geometry.directions[:, 1]]))
    shared.PlaneOrientationSequence = [orientation]
    return shared


def _frame_groups(geometry: VolumeGeometry, k: int) -> tuple[Dataset, Dataset]:
    """The Per-frame Functional Groups item of slice ``k`` (its Plane Position and Frame Content with its
    dimension index) and that Frame Content item, for the caller to add to."""
    frame = Dataset()
    position = Dataset()
    position.ImagePositionPatient = _ds_numbers(geometry.index_to_lps([0, 0, k])[0])
    frame.PlanePositionSequence = [position]
    content = Dataset()
    content.DimensionIndexValues = [k + 1]
    frame.FrameContentSequence = [content]
    return frame, content


def _ds_number(value: float) -> str:
    """A decimal string of at most 16 characters (the DS limit) that keeps sub-micron precision."""
    text = f"{float(value):.10g}"
    while len(text) > 16:
        text = f"{float(value):.{len(text) - 8}g}"
    return "0" if text == "-0" else text


def _ds_numbers(values: Sequence[float]) -> list[str]:
    return [_ds_number(v) for v in values]


def _rotation(axis: Sequence[float], degrees: float) -> np.ndarray:
    """Rotation matrix about ``axis`` (Rodrigues' formula)."""
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    angle = np.radians(degrees)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross
