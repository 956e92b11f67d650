"""One exception hierarchy for the whole core.

Every message names what was wrong (the file, series, segment or protocol path) and what
the user can do about it, so that the command line can print it as one line and the Slicer
modules can show it in an error dialog unchanged.
"""

from __future__ import annotations


class DICOMAnnotatorError(Exception):
    """Base class of every error the core raises on purpose."""


class InputError(DICOMAnnotatorError):
    """An input file or folder is missing, unreadable or not what was expected."""


class SeriesError(InputError):
    """A DICOM series cannot be represented exactly as one regular 3D volume."""


class GeometryMismatchError(DICOMAnnotatorError):
    """Two pieces of data that must share a voxel grid do not."""


class SegmentationError(DICOMAnnotatorError):
    """A segmentation is inconsistent (bad segment numbers, shapes, overlaps...)."""


class OutputExistsError(DICOMAnnotatorError):
    """An output already exists and overwriting was not asked for."""


class MissingDependencyError(DICOMAnnotatorError):
    """An optional package needed by one feature is not installed."""

    def __init__(self, package: str, feature: str, install_hint: str | None = None) -> None:
        hint = install_hint or f"pip install {package}"
        super().__init__(f"{feature} needs the Python package '{package}', which is not installed; {hint}")
        self.package = package
        self.feature = feature


class ProtocolError(DICOMAnnotatorError):
    """A protocol file is invalid; ``problems`` lists every problem with its JSON path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        listed = "; ".join(self.problems[:10]) + ("; ..." if len(self.problems) > 10 else "")
        super().__init__(f"{source} is not a valid protocol ({len(self.problems)} problem(s)): {listed}")
