"""Outputs for training pipelines and planning: NIfTI image + label map + label table
(``nifti``) and one surface model per segment in STL or OBJ (``models``).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "models": ["export_models"],
    "nifti": ["export_nifti", "label_table"],
})
