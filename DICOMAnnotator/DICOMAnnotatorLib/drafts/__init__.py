"""AI drafts: a model's output made the case's draft, coded with the protocol's structures.

The label tables segmentation tools write (``label_tables``: TotalSegmentator's class map and NIfTI
header, nnU-Net's dataset.json, a MONAI bundle's metadata), the output file read on the series
(``model_outputs``: a label map, probability maps, a DICOM SEG; ``nifti`` for a NIfTI file's header
extensions, and its plain 3D volumes read without SimpleITK), its labels mapped onto the
protocol by an explicit mapping, code or name (``mapping``), the draft segmentation with
Segment Algorithm Type AUTOMATIC (``conversion``; there too any segmentation, such as an RT Structure
Set's ROIs, mapped onto a protocol), the model's uncertainty (``uncertainty``), and
a MONAI bundle run on the CPU (``bundles``, with the optional PyTorch and MONAI).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "bundles": ["Bundle", "read_bundle", "run_bundle"],
    "conversion": ["Draft", "build_draft", "map_segmentation"],
    "label_tables": ["LabelTable", "SourceLabel", "label_table_in_nifti", "read_label_table"],
    "mapping": ["LabelMapping", "LabelMappingError", "map_labels", "normalized_name"],
    "model_outputs": ["ModelOutput", "read_model_output"],
    "uncertainty": ["Uncertainty", "binary_entropy", "mean_entropy"],
})
