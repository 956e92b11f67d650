"""Several annotators compared and merged: overlap and surface-distance metrics (``overlap``),
per-structure agreement between segmentations (``segmentations``), rater statistics such as
Fleiss' kappa and Krippendorff's alpha (``raters``), marks and answers of SRs matched across
annotators (``annotations``), STAPLE and majority consensus (``consensus``), AI drafts against
what people made of them (``evaluation``) and the HTML reports (``report``).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "annotations": [
        "AnnotationAgreement",
        "ReportedMark",
        "compare_annotations",
        "consensus_content",
        "polygon_vertices",
        "pooled_label_agreement",
        "read_annotations",
    ],
    "consensus": ["ConsensusResult", "build_consensus"],
    "evaluation": ["DEFINITIONS", "StructureChange", "compare_with_draft", "distribution", "evaluation_summary"],
    "report": ["render_case_report", "render_evaluation_report"],
    "segmentations": ["AgreementReport", "segmentation_agreement"],
})
