"""The ``dicom-annotator`` command (contract: shared/CLI.md)."""
