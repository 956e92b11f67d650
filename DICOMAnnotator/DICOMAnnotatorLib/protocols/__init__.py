"""Annotation protocols: coded segment templates, annotation kinds, window presets, review setup.

A protocol is written once by the project lead and applied by every annotator, so that every
case gets the same coded segments. Public API::

    from DICOMAnnotatorLib.protocols import load_protocol, shipped_protocols
    protocol = load_protocol("lung-nodules-ct")          # a shipped id or a file path
    protocol.segment_descriptions()                      # coded segments, number = label_value
    to_slicer_terminology(protocol)                      # Slicer terminology context JSON
"""

from .loading import SHIPPED_PROTOCOLS_DIR, load_protocol, load_protocol_file, shipped_protocol_ids, shipped_protocols
from .model import (
    CT_WINDOW_PRESETS,
    AnnotationKind,
    Consensus,
    ConsensusMethod,
    EdgeCase,
    ExpectedCount,
    Guidance,
    Protocol,
    ReferenceImage,
    ReviewRole,
    ReviewTier,
    StructureTemplate,
    WindowPreset,
    parse_color,
)
from .terminology import (
    AnatomicContext,
    AnatomicEntry,
    TerminologyContext,
    TerminologyEntry,
    anatomic_context_name,
    read_slicer_anatomic_context,
    read_slicer_terminology,
    terminology_context_name,
    to_slicer_anatomic_context,
    to_slicer_terminology,
    write_slicer_anatomic_context,
    write_slicer_terminology,
)
from .validation import Problem, protocol_schema, validate_protocol_data

__all__ = [
    "CT_WINDOW_PRESETS",
    "SHIPPED_PROTOCOLS_DIR",
    "AnatomicContext",
    "AnatomicEntry",
    "AnnotationKind",
    "Consensus",
    "ConsensusMethod",
    "EdgeCase",
    "ExpectedCount",
    "Guidance",
    "Problem",
    "Protocol",
    "ReferenceImage",
    "ReviewRole",
    "ReviewTier",
    "StructureTemplate",
    "TerminologyContext",
    "TerminologyEntry",
    "WindowPreset",
    "anatomic_context_name",
    "load_protocol",
    "load_protocol_file",
    "parse_color",
    "protocol_schema",
    "read_slicer_anatomic_context",
    "read_slicer_terminology",
    "shipped_protocol_ids",
    "shipped_protocols",
    "terminology_context_name",
    "to_slicer_anatomic_context",
    "to_slicer_terminology",
    "validate_protocol_data",
    "write_slicer_anatomic_context",
    "write_slicer_terminology",
]
