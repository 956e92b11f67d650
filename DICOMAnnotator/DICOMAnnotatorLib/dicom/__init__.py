"""DICOM at the byte level, below every other package: Part 10 files written from encoded
elements (``part10``), large values that are mostly zeros written as sparse files (``sparse``),
series headers and per-frame sequences read from the files' bytes (``headers``, ``sequences``),
Siemens mosaics recognised (``mosaic``), pixel decoding failures explained (``decoding``), coded
concepts and Code Sequence items (``codes``), CIELab display colours (``colors``), person names
(``person_names``), RLE Lossless frames (``rle``), 1-bit frames that pydicom cannot decode
(``bit_frames``) and the patient/study attributes that derived objects copy from their source
(``source_attributes``).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "bit_frames": ["BIT_FRAME_SYNTAXES", "iter_bit_frames"],
    "codes": ["Code", "TISSUE", "code_item", "code_value_keyword", "property_type_item", "to_highdicom_code"],
    "colors": ["dicom_lab_to_rgb", "rgb_to_dicom_lab"],
    "decoding": ["pixel_decoding_error"],
    "headers": ["header_value", "native_pixel_data", "read_header"],
    "mosaic": ["is_mosaic", "mosaic_image_count"],
    "part10": ["encode_element", "encode_items", "encode_sequence", "new_file_meta", "raw_element", "save_part10"],
    "person_names": ["from_person_name", "to_person_name"],
    "rle": ["rle_decode_segment", "rle_encode_frames"],
    "sequences": ["RawItem", "RawSequenceError", "split_file"],
    "sparse": ["SparseBytes", "sparse_bytes"],
    "source_attributes": ["copy_patient_and_study", "derived_instance"],
})
