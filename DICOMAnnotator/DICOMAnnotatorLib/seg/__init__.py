"""DICOM Segmentation (BINARY, FRACTIONAL, LABELMAP): the writer (``writer``: header in
``header``, frames encoded to bytes in ``frames``, Segment Description macro in
``descriptions``) and the reader (``file`` parses any producer's SEG, ``grid`` places its frames
on the series, ``reader`` returns segmentations, ``info`` summarises a SEG from the file alone).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "descriptions": ["read_segment_descriptions"],
    "info": ["seg_summary"],
    "reader": ["read_seg", "read_segs"],
    "writer": ["write_seg"],
})
