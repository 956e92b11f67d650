"""Annotation protocols: coded segment templates, annotation kinds, window presets, review setup.

A protocol is written once by the project lead and applied by every annotator, so that every
case gets the same coded segments. Public API::

    from DICOMAnnotatorLib.protocols import load_protocol, shipped_protocols
    protocol = load_protocol("lung-nodules-ct")          # a shipped id or a file path
    protocol.segment_descriptions()                      # coded segments, number = label_value
    to_slicer_terminology(protocol)                      # Slicer terminology context JSON

"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "loading": [
        "SHIPPED_PROTOCOLS_DIR",
        "load_protocol",
        "load_protocol_file",
        "shipped_protocol_ids",
        "shipped_protocols",
    ],
    "model": [
        "AnnotationKind",
        "CT_WINDOW_PRESETS",
        "Consensus",
        "ConsensusMethod",
        "EdgeCase",
        "EjectionFractionMethod",
        "EjectionFractionRule",
        "ExpectedCount",
        "Guidance",
        "ModalitySettings",
        "Protocol",
        "ReferenceImage",
        "ReviewRole",
        "ReviewTier",
        "SUVThreshold",
        "StructureTemplate",
        "View",
        "WindowPreset",
        "parse_color",
    ],
    "terminology": [
        "AnatomicContext",
        "AnatomicEntry",
        "TerminologyContext",
        "TerminologyEntry",
        "anatomic_context_name",
        "read_slicer_anatomic_context",
        "read_slicer_terminology",
        "terminology_context_name",
        "to_slicer_anatomic_context",
        "to_slicer_terminology",
        "write_slicer_anatomic_context",
        "write_slicer_terminology",
    ],
    "validation": ["Problem", "protocol_schema", "validate_protocol_data"],
})
