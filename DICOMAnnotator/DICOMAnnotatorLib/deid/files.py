"""One input file to one de-identified output file: read, check pixels, de-identify, write.

The output is ``OUT/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`` with the
replaced UIDs: input file and folder names are never reused, since they often hold names or IDs.
A file that cannot be processed gives a result that says why; nothing here raises for one bad file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import MediaStorageDirectoryStorage

from ..atomic import atomic_path
from ..dicom import save_part10
from ..errors import DICOMAnnotatorError, InputError, OutputExistsError
from .burned_in import burned_in_risks, screens_pixels
from .dataset import Deidentifier, peek
from .mapping import KeyedMapper
from .ocr import tesseract_version
from .options import DeidOptions, PixelPolicy
from .pixels import PixelResult, Screen, clean_overlays, clean_pixels, configured_boxes, overlay_groups, screen_pixels
from .visual_features import already_cleaned, has_pixels, recognizable_features

WRITTEN, FAILED, NOT_WRITTEN, SKIPPED = "written", "failed", "not_written", "skipped"


@dataclass
class FileResult:
    """The outcome for one input file; ``mapping`` holds new (kind, original, replacement) rows."""

    source: str
    status: str
    output: str | None = None
    reason: str | None = None
    removed: int = 0
    replaced: int = 0
    flagged: bool = False
    pixels: PixelResult | None = None
    mapping: list[tuple[str, str, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        payload = {"source": self.source, "status": self.status, "output": self.output, "reason": self.reason,
                   "removed": self.removed, "replaced": self.replaced, "flagged": self.flagged}
        if self.pixels is not None:
            payload["pixels"] = self.pixels.to_json()
        return payload


class FileDeidentifier:
    """De-identifies files into one output folder; built once per worker process."""

    def __init__(self, options: DeidOptions, key: bytes, output_dir: str | os.PathLike[str], *,
                 force: bool = False, record_mapping: bool = False) -> None:
        self.options = options
        self.output_dir = Path(output_dir)
        self.force = force
        self.mapper = KeyedMapper(key, record=record_mapping)
        self.deidentifier = Deidentifier(options, self.mapper)
        self._needs_ocr = options.pixels is PixelPolicy.REDACT or options.clean_graphics

    @property
    def ocr(self) -> str | None:
        """The OCR engine, looked up when first needed: running tesseract costs start-up time."""
        return tesseract_version() if self._needs_ocr else None

    def process(self, path: str | os.PathLike[str], display: str | None = None) -> FileResult:
        result = FileResult(source=display or str(path), status=FAILED)
        try:
            self._process(Path(path), result)
        except InvalidDicomError:
            result.reason = "not a DICOM file (no Part 10 'DICM' header)"
        except OutputExistsError:
            result.reason = ("its output already exists: an instance with the same SOP Instance UID was written "
                             "before (a duplicate, or an earlier run); --force replaces it")
        except DICOMAnnotatorError as exc:
            result.reason = str(exc)
        except Exception as exc:  # a damaged file must not stop the batch: report it and go on
            result.reason = f"cannot be processed: {type(exc).__name__}: {exc}"
        finally:
            if self.mapper.record:
                result.mapping = [(kind, original, new) for (kind, original), new in self.mapper.recorded.items()]
                self.mapper.recorded.clear()
        return result

    def _process(self, path: Path, result: FileResult) -> None:
        ds = dcmread(path)
        if peek(ds, "SOPClassUID") == MediaStorageDirectoryStorage or "DirectoryRecordSequence" in ds:
            result.status = SKIPPED
            result.reason = "a DICOMDIR (its records name patients); rebuild it from the outputs"
            return
        required = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
        missing = [keyword for keyword in required if not peek(ds, keyword)]
        if missing:
            result.reason = f"lacks {', '.join(missing)}, so it is not a composite instance that can be stored"
            return
        if self.options.clean_recognizable_visual_features:
            reason = recognizable_features(ds)
            if reason is not None:
                result.status = NOT_WRITTEN
                result.reason = f"Clean Recognizable Visual Features asked for, and it is {reason}"
                return
        policy = self.options.pixels
        risks = burned_in_risks(ds) if policy is not PixelPolicy.KEEP else []
        screen = None
        if policy is not PixelPolicy.KEEP and screens_pixels(ds):
            try:
                screen = screen_pixels(ds)
            except InputError as exc:
                risks.append(f"not screened for text: {exc}")
            else:
                if screen.lines:
                    risks.append(f"{screen.lines} line(s) that look like text in its pixels")
        if self.options.ocr_all_images and policy is PixelPolicy.REDACT and "PixelData" in ds and not risks:
            risks = ["OCR of every image was asked for"]
        boxes = configured_boxes(ds, self.options.regions) if "PixelData" in ds else []
        result.flagged = bool(risks)
        if risks and policy is PixelPolicy.REDACT and self.ocr is None:
            result.status = NOT_WRITTEN
            result.reason = (f"may show burned-in identifying text ({'; '.join(risks)}) and OCR is not available "
                             "(install Debian tesseract-ocr and pytesseract), so its pixels were not checked")
            result.pixels = PixelResult(risks=risks)
            return
        # Judged before de-identification, which removes the descriptions the judgement reads.
        claim_visual = self.options.clean_recognizable_visual_features and has_pixels(ds) and not already_cleaned(ds)
        counts = self.deidentifier.deidentify(ds)
        result.removed, result.replaced = counts["removed"], counts["replaced"]
        if claim_visual:  # judged free of recognizable features: nothing to remove (E.3.2)
            ds.RecognizableVisualFeatures = "NO"
            self.deidentifier.add_method_code(ds, "clean_recognizable_visual_features")
        if risks or boxes or (self.options.clean_graphics and overlay_groups(ds)):
            result.pixels = self._clean_pixels(ds, risks, boxes, screen)
        result.output = str(self._write(ds))
        result.status = WRITTEN

    def _clean_pixels(self, ds, risks: list[str], boxes, screen: Screen | None) -> PixelResult:
        pixels = PixelResult(risks=risks)
        ocr = self.ocr if risks and self.options.pixels is PixelPolicy.REDACT else None
        if ocr is not None or boxes:
            clean_pixels(ds, pixels, boxes, screen or screen_pixels(ds), ocr=ocr, read_all=self.options.ocr_all_images)
        if pixels.checked_by is not None:
            ds.BurnedInAnnotation = "NO"
            self.deidentifier.add_method_code(ds, "clean_pixel_data")
        if self.options.clean_graphics:
            clean_overlays(ds, pixels, ocr=self.ocr)
        return pixels

    def _write(self, ds) -> Path:
        target = self.output_dir / str(ds.StudyInstanceUID) / str(ds.SeriesInstanceUID) / f"{ds.SOPInstanceUID}.dcm"
        with atomic_path(target, force=self.force) as temporary:
            save_part10(ds, temporary)
        return target
