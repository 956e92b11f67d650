"""Datasets of final cases: export for training, manifest, patient-level splits, and the dataset card.

``export`` gathers a project's final cases through a review service (local store or team server)
and has each exported by ``entries`` (NIfTI image + label map, or the DICOM as it is, and the
case's manifest entry) on local processes or a Dask cluster; ``splits`` deals patients to
train/validation/test (stratified by a protocol question when asked); ``manifest`` writes and reads
``manifest.json``/``manifest.csv``; ``card`` counts the card's figures from the manifest and
``page``/``plots`` render them as HTML with inline SVG. The commands are
``dicom-annotator dataset export|card``.
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "card": ["build_card"],
    "entries": ["FORMATS"],
    "export": ["collect_manifest", "export_dataset"],
    "manifest": ["MANIFEST_JSON", "read_manifest"],
    "page": ["render_card"],
    "splits": ["parse_fractions"],
})
