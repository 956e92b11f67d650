"""A generated study with identifiers planted everywhere they hide, for the PHI canary tests.

Every planted value (a "canary") is a string that cannot appear in a de-identified file by
chance; the tests scan every output byte for each of them. Places covered: patient, physician
and operator names, IDs, dates and times, addresses and phone numbers, free-text descriptions
and comments, nested sequences (three levels deep, listed and unlisted), private attributes
(plain and inside a private sequence), overlays (text attributes), curves, the File Meta
Information and the preamble, SR content, and text burned into the pixels of ultrasound
(RGB, multi-frame, JPEG 2000) and secondary capture (RLE) images. Also returned: every source
UID, since none of them may survive either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
import numpy as np
from DICOMAnnotatorLib.imaging import phantoms
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    SecondaryCaptureImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

FAMILY, GIVEN = "Plumtree", "Octavia"
PATIENT_ID = "MRN83927461"
CANARIES = {
    "family name": FAMILY,
    "given name": GIVEN,
    "patient id": PATIENT_ID,
    "other id": "OTH71624055",
    "accession": "ACC5550199",
    "birth date": "19710304",
    "study date": "20230517",
    "acquisition time": "134512",
    "address": "Quillfeather Lane",
    "phone": "0155-8822-9911",
    "referring physician": "Thistlewood",
    "operator": "Brambleworth",
    "institution": "Marigold Infirmary",
    "station": "MARIGOLDCT9",
    "serial": "SN99887766",
    "study description": "Harrowgate protocol",
    "comment": "Wexlebury",
    "nested": "Fennimore",
    "deep nested": "Ravensclaw",
    "private": "Zabriskie",
    "private nested": "Quintavalle",
    "overlay": "Ollivander",
    "curve": "Cuthbertson",
    "file meta": "METALEAKAE",
    "preamble": "PREAMBLELEAK",
    "sr text": "Moonwhistle",
    "sr observer": "Featherstonehaugh",
    "seg creator": "Pemberton",
}
#: Planted words that identify nobody, written into free text beside identifiers: the Basic Profile
#: removes them with the text, the Clean options keep them (the text is cleaned, not dropped).
DESCRIPTIVE = ("study description", "comment", "nested", "sr text", "overlay", "curve")
#: Text burned into pixels (OCR checks these words do not survive).
BURNED_WORDS = ("PLUMTREE", "OCTAVIA", "83927461")


@dataclass
class CanaryStudy:
    folder: Path
    ct_files: list[Path]
    seg_file: Path
    sr_file: Path
    us_file: Path
    sc_file: Path
    source_uids: set[str] = field(default_factory=set)


def _plant_patient(ds: Dataset) -> None:
    c = CANARIES
    ds.PatientName = f"{FAMILY}^{GIVEN}"
    ds.PatientID = PATIENT_ID
    ds.OtherPatientIDs = c["other id"]
    ds.PatientBirthDate = c["birth date"]
    ds.PatientSex = "F"
    ds.PatientAge = "052Y"
    ds.PatientWeight = "61.5"
    ds.PatientAddress = f"12 {c['address']}, Springfield"
    ds.PatientTelephoneNumbers = c["phone"]
    ds.PatientComments = f"{c['comment']} patient {FAMILY} called on 17/05/2023"
    ds.AdditionalPatientHistory = f"Seen by Dr {c['referring physician']}"
    ds.ReferringPhysicianName = f"{c['referring physician']}^Amos"
    ds.AccessionNumber = c["accession"]
    ds.StudyID = "ST55501"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = c["study date"]
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = c["acquisition time"]
    ds.StudyDescription = f"CT abdomen {c['study description']} for {FAMILY.upper()} {PATIENT_ID}"
    ds.InstitutionName = c["institution"]
    ds.InstitutionAddress = f"1 {c['address']}"
    ds.StationName = c["station"]
    ds.DeviceSerialNumber = c["serial"]
    ds.OperatorsName = f"{c['operator']}^Ivy"
    ds.PerformingPhysicianName = f"{c['referring physician']}^Amos"


def _nested(ds: Dataset) -> None:
    """Listed and unlisted sequences, three levels deep, each hiding a canary."""
    request = Dataset()
    request.RequestedProcedureDescription = f"Follow-up {CANARIES['nested']} of {GIVEN} {FAMILY}"
    request.ScheduledProcedureStepID = CANARIES["accession"]
    ds.RequestAttributesSequence = [request]
    person = Dataset()
    person.PersonName = f"{CANARIES['deep nested']}^Hal"  # (0040,A123): D at any depth
    purpose = Dataset()
    purpose.CodeValue, purpose.CodingSchemeDesignator, purpose.CodeMeaning = "121311", "DCM", "Localizer"
    purpose.ContentSequence = [person]
    reference = Dataset()
    reference.ReferencedSOPClassUID = ds.SOPClassUID
    reference.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    reference.PurposeOfReferenceCodeSequence = [purpose]
    reference.OperatorsName = f"{CANARIES['nested']}^Kit"
    ds.ReferencedImageSequence = [reference]
    anatomy = Dataset()  # an unlisted sequence: its PN and dates are still handled by VR
    anatomy.CodeValue, anatomy.CodingSchemeDesignator, anatomy.CodeMeaning = "818981001", "SCT", "Abdomen"
    anatomy.EvaluatorName = f"{CANARIES['deep nested']}^Jo"  # PN and DA the table does not list
    anatomy.ExpiryDate = CANARIES["study date"]
    ds.AnatomicRegionSequence = [anatomy]


def _private(ds: Dataset) -> None:
    block = ds.private_block(0x0019, "CANARY CORP", create=True)
    block.add_new(0x01, "LO", CANARIES["private"])
    inner = Dataset()
    inner.PatientName = CANARIES["private nested"]
    block.add_new(0x02, "SQ", Sequence([inner]))
    safe = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    safe.add_new(0x23, "DS", "39.375")  # Table Speed: on the safe list
    safe.add_new(0x50, "LO", CANARIES["private"])  # not on it


def _overlay_and_curve(ds: Dataset) -> None:
    """An overlay whose bitmap spells the patient's name, with text attributes; a curve description."""
    rows, columns = 48, 256
    ds.add_new(0x60000010, "US", rows)
    ds.add_new(0x60000011, "US", columns)
    ds.add_new(0x60000022, "LO", f"{CANARIES['overlay']} {FAMILY}")
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60001500, "LO", f"{CANARIES['overlay']} {PATIENT_ID}")
    ds.add_new(0x60004000, "LT", f"{CANARIES['overlay']} by {CANARIES['operator']}")
    bits = (_burned_in(rows, columns, (f"{BURNED_WORDS[0]} {BURNED_WORDS[1]}",)) > 128).astype(np.uint8)
    ds.add_new(0x60003000, "OW", np.packbits(bits.ravel(), bitorder="little").tobytes())
    ds.add_new(0x50000022, "LO", f"{CANARIES['curve']} {GIVEN}")


def _file_meta(ds: Dataset) -> None:
    ds.file_meta.SourceApplicationEntityTitle = CANARIES["file meta"]
    ds.file_meta.PrivateInformationCreatorUID = "1.2.3.4"
    ds.file_meta.PrivateInformation = (CANARIES["file meta"] + "X").encode()
    ds.preamble = CANARIES["preamble"].encode().ljust(128, b"\0")


def _burned_in(rows: int, columns: int, lines: tuple[str, ...]) -> np.ndarray:
    """A grey gradient 'image' with white text at the top, as ultrasound and screen captures show it."""
    image = Image.fromarray(np.tile(np.linspace(20, 90, columns, dtype=np.uint8), (rows, 1)))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 16)
    for n, line in enumerate(lines):
        draw.text((8, 6 + 22 * n), line, fill=255, font=font)
    return np.asarray(image)


def _image_instance(sop_class: str, study: Dataset, modality: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.ImplementationClassUID = phantoms.IMPLEMENTATION_CLASS_UID
    ds.SpecificCharacterSet = "ISO_IR 100"
    _plant_patient(ds)
    ds.StudyInstanceUID = study.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.SeriesNumber = 3 if modality == "US" else 4
    ds.InstanceNumber = 1
    ds.Manufacturer = "Sonic Acme"
    ds.ManufacturerModelName = "Echo 5"
    ds.PatientOrientation = ""
    ds.BurnedInAnnotation = "YES"
    return ds


def ultrasound(study: Dataset) -> Dataset:
    """RGB, three frames, JPEG 2000 lossless, text burned into every frame."""
    ds = _image_instance(UltrasoundMultiFrameImageStorage, study, "US")
    text = _burned_in(240, 320, (f"{BURNED_WORDS[0]} {BURNED_WORDS[1]}", f"ID {BURNED_WORDS[2]}", "17.05.2023"))
    frames = np.stack([np.stack([text, text, np.roll(text, k, axis=0) // 2], axis=-1) for k in range(3)])
    frames[:, 120:, :, :] = np.roll(frames[:, 120:, :, :], 5, axis=1)  # frames differ below the text
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.FrameTime = "33.3"
    ds.FrameIncrementPointer = 0x00181063
    ds.CineRate = 30
    ds.set_pixel_data(frames, "RGB", 8, generate_instance_uid=False)
    ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    return ds


def secondary_capture(study: Dataset) -> Dataset:
    """8-bit monochrome screen capture, RLE compressed, text burned in."""
    ds = _image_instance(SecondaryCaptureImageStorage, study, "OT")
    pixels = _burned_in(256, 256, (f"{BURNED_WORDS[0]}, {BURNED_WORDS[1]}", f"MRN {BURNED_WORDS[2]}"))
    ds.ConversionType = "WSD"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.set_pixel_data(pixels, "MONOCHROME2", 8, generate_instance_uid=False)
    ds.compress(RLELossless, generate_instance_uid=False)
    return ds


def structured_report(study: Dataset, image: Dataset) -> Dataset:
    """A Comprehensive SR with text, a person, a date and a reference to a CT image."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.ImplementationClassUID = phantoms.IMPLEMENTATION_CLASS_UID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 100"
    _plant_patient(ds)
    ds.StudyInstanceUID = study.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.SeriesNumber = 5
    ds.InstanceNumber = 1
    ds.Manufacturer = "DICOMAnnotator"
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName = f"{CANARIES['sr observer']}^Di"
    observer.VerifyingOrganization = CANARIES["institution"]
    observer.VerificationDateTime = CANARIES["study date"] + "101500"
    observer.VerifyingObserverIdentificationCodeSequence = []
    ds.VerifyingObserverSequence = [observer]
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = [_code("18748-4", "LN", "Diagnostic Imaging Report")]
    text = Dataset()
    text.RelationshipType, text.ValueType = "CONTAINS", "TEXT"
    text.ConceptNameCodeSequence = [_code("121071", "DCM", "Finding")]
    text.TextValue = f"{CANARIES['sr text']} lesion; told {GIVEN} {FAMILY} ({PATIENT_ID}) on 17/05/2023"
    name = Dataset()
    name.RelationshipType, name.ValueType = "HAS OBS CONTEXT", "PNAME"
    name.ConceptNameCodeSequence = [_code("121008", "DCM", "Person Observer Name")]
    name.PersonName = f"{CANARIES['sr observer']}^Di"
    when = Dataset()
    when.RelationshipType, when.ValueType = "CONTAINS", "DATE"
    when.ConceptNameCodeSequence = [_code("111060", "DCM", "Study Date")]
    when.Date = CANARIES["study date"]
    picture = Dataset()
    picture.RelationshipType, picture.ValueType = "CONTAINS", "IMAGE"
    picture.ConceptNameCodeSequence = [_code("121080", "DCM", "Best illustration of finding")]
    referenced = Dataset()
    referenced.ReferencedSOPClassUID = image.SOPClassUID
    referenced.ReferencedSOPInstanceUID = image.SOPInstanceUID
    picture.ReferencedSOPSequence = [referenced]
    ds.ContentSequence = [name, text, when, picture]
    evidence_instance = Dataset()
    evidence_instance.ReferencedSOPClassUID = image.SOPClassUID
    evidence_instance.ReferencedSOPInstanceUID = image.SOPInstanceUID
    evidence_series = Dataset()
    evidence_series.SeriesInstanceUID = image.SeriesInstanceUID
    evidence_series.ReferencedSOPSequence = [evidence_instance]
    evidence = Dataset()
    evidence.StudyInstanceUID = image.StudyInstanceUID
    evidence.ReferencedSeriesSequence = [evidence_series]
    ds.CurrentRequestedProcedureEvidenceSequence = [evidence]
    return ds


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def segmentation(cts: list[Dataset]) -> Dataset:
    mask = np.zeros((len(cts), int(cts[0].Rows), int(cts[0].Columns)), dtype=bool)
    mask[1:3, 8:20, 8:20] = True
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="Liver",
        segmented_property_category=hd.sr.CodedConcept("123037004", "SCT", "Anatomical Structure"),
        segmented_property_type=hd.sr.CodedConcept("10200004", "SCT", "Liver"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    return hd.seg.Segmentation(
        source_images=cts, pixel_array=mask, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=100,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="DICOMAnnotator",
        manufacturer_model_name="test", software_versions="0", device_serial_number=CANARIES["serial"],
        content_creator_name=f"{CANARIES['seg creator']}^Lu")


def all_uids(ds: Dataset) -> set[str]:
    """Every UID value in a dataset and its file meta, at any depth, except well-known DICOM ones."""
    found = set()

    def walk(item: Dataset) -> None:
        for elem in item:
            if elem.VR == "SQ":
                for child in elem.value:
                    walk(child)
            elif elem.VR == "UI" and elem.value:
                values = elem.value if isinstance(elem.value, list) else [elem.value]
                found.update(str(v) for v in values if not str(v).startswith("1.2.840.10008."))

    walk(ds)
    if hasattr(ds, "file_meta"):
        walk(ds.file_meta)
    found.discard(phantoms.IMPLEMENTATION_CLASS_UID)
    return found


def write_canary_study(folder: Path, *, slices: int = 4) -> CanaryStudy:
    """Write the study (CT series, SEG, SR, US, SC) under ``folder`` with names that are themselves PHI."""
    geometry = phantoms.phantom_geometry(size=(32, 32, slices))
    hu, _ = phantoms.phantom_volume(geometry)
    cts = phantoms.ct_datasets(geometry, hu, patient_name=f"{FAMILY}^{GIVEN}", patient_id=PATIENT_ID)
    for ds in cts:
        _plant_patient(ds)
        _nested(ds)
        _private(ds)
        _file_meta(ds)
        ds.ImageComments = f"{CANARIES['comment']} image of {FAMILY}, born {CANARIES['birth date']}"
    _overlay_and_curve(cts[0])
    study = cts[0]
    seg = segmentation(cts)
    sr = structured_report(study, cts[1])
    us, sc = ultrasound(study), secondary_capture(study)
    for ds in (seg, sr, us, sc):
        _file_meta(ds)
    case = folder / f"{FAMILY}_{GIVEN}_{PATIENT_ID}"
    ct_files = phantoms.write_datasets(cts, case / "ct")
    paths = {}
    for name, ds in (("seg", seg), ("sr", sr), ("us", us), ("sc", sc)):
        paths[name] = case / f"{name}_{FAMILY}.dcm"
        ds.save_as(paths[name], enforce_file_format=True)
    uids = set().union(*(all_uids(ds) for ds in (*cts, seg, sr, us, sc)))
    return CanaryStudy(folder, ct_files, paths["seg"], paths["sr"], paths["us"], paths["sc"], uids)
