"""De-identification: DICOM PS3.15 Annex E Basic Profile with options, keyed UIDs, burned-in text."""
