"""What each value (or channel) of a model's output is: label tables in the forms segmentation tools write them.

A label map says nothing about its values; each tool keeps their names in its own place:

- TotalSegmentator: its ``class_map`` (``{1: "spleen", 2: "kidney_right", ...}``, saved as JSON), and in the
  multilabel file of ``--ml`` a NIfTI header extension (code 0) holding a Caret-style XML ``<LabelTable>``
  whose ``<Label Key="1" ...>`` entries carry the names (read by :func:`label_table_in_nifti`);
- nnU-Net: ``dataset.json`` ``"labels"``: ``{"background": 0, "liver": 1}`` (v2), regions
  ``{"whole_tumor": [1, 2, 3], ...}`` with ``"regions_class_order"`` (v2, region-based training), or
  ``{"0": "background", "1": "liver"}`` (v1);
- a MONAI bundle: ``configs/metadata.json`` ``network_data_format.outputs.pred.channel_def``
  (``{"0": "background", "1": "spleen"}``), channel c being label value c after the argmax;
- this program's ``seg import`` sidecar (``{"segments": [{"label_value", "label", "type", ...}]}``), which
  also carries each label's codes.

Background (value 0, or a label named "background") is never a structure and is left out.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dicom import Code
from ..errors import InputError
from ..imaging import SegmentDescription
from .nifti import header_extensions

_BACKGROUND = "background"


@dataclass(frozen=True)
class SourceLabel:
    """One label of a model's output: its name, the label-map values it covers, its probability channel and,
    when the output carries them, its codes."""

    name: str
    values: tuple[int, ...]
    channel: int | None = None
    description: SegmentDescription | None = None

    @property
    def key(self) -> str:
        """How ``--labels`` may name it besides its name: its label value (a region's first value)."""
        return str(self.values[0])

    def __str__(self) -> str:
        values = ", ".join(map(str, self.values))
        return f"label {values} '{self.name}'" if len(self.values) == 1 else f"region [{values}] '{self.name}'"


@dataclass(frozen=True)
class LabelTable:
    """The labels of a model's output and where their names were read (file and form, for messages)."""

    labels: tuple[SourceLabel, ...]
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "labels": [{"name": label.name, "values": list(label.values)}
                                                  for label in self.labels]}


def read_label_table(path: str | os.PathLike[str]) -> LabelTable:
    """The label table in ``path``: a JSON file in one of the forms above, or a MONAI bundle's folder."""
    path = Path(path)
    if path.is_dir():
        metadata = path / "configs" / "metadata.json"
        if not metadata.is_file():
            raise InputError(f"{path} is a folder but not a MONAI bundle (no configs/metadata.json); give the label "
                             "table's JSON file")
        path = metadata
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"Cannot read the label table {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"The label table {path} is not JSON ({error}); give TotalSegmentator's class map, nnU-Net's "
                         "dataset.json, a MONAI bundle's metadata.json or a `seg import` sidecar") from None
    return label_table_from_json(data, str(path))


def label_table_from_json(data: Any, source: str) -> LabelTable:
    """The labels of a parsed label-table file (``source`` names it in messages)."""
    if isinstance(data, dict) and isinstance(data.get("network_data_format"), dict):
        return LabelTable(_monai_channels(data["network_data_format"], source), f"{source} (MONAI bundle metadata)")
    if isinstance(data, dict) and isinstance(data.get("segments"), list):
        return LabelTable(_sidecar_labels(data["segments"], source), f"{source} (dicom-annotator label-map sidecar)")
    if isinstance(data, dict) and isinstance(data.get("labels"), dict):
        regions = data.get("regions_class_order") is not None
        form = "nnU-Net dataset.json, region-based" if regions else "nnU-Net dataset.json labels"
        return LabelTable(_label_dictionary(data["labels"], source, regions=regions), f"{source} ({form})")
    if isinstance(data, dict) and data:
        return LabelTable(_label_dictionary(data, source, regions=False), f"{source} (class map)")
    raise InputError(f"{source} is no label table this program knows: give TotalSegmentator's class map "
                     '({"1": "spleen", ...}), nnU-Net\'s dataset.json, a MONAI bundle (its folder or '
                     "configs/metadata.json) or a `seg import` sidecar")


def _label_dictionary(entries: Mapping[str, Any], source: str, *, regions: bool) -> tuple[SourceLabel, ...]:
    """``{value: name}`` (TotalSegmentator, nnU-Net v1) or ``{name: value | [values]}`` (nnU-Net v2, MONAI Label).

    Region-based nnU-Net models predict one channel per region, in the table's order after background.
    """
    labels = []
    if all(_is_integer(key) for key in entries) and all(isinstance(v, str) for v in entries.values()):
        pairs = [(str(name), (int(key),)) for key, name in entries.items()]
    else:
        pairs = []
        for name, value in entries.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(_is_integer(v) and int(v) >= 0 for v in values):
                raise InputError(f"{source}: label '{name}' has value {value!r}; a label table gives each name a label "
                                 "value (or a region's list of values), or each value a name")
            pairs.append((str(name), tuple(int(v) for v in values)))
    foreground = [(name, values) for name, values in pairs if values != (0,) and name.lower() != _BACKGROUND]
    for index, (name, values) in enumerate(foreground):
        channel = index if regions else (values[0] if len(values) == 1 else None)
        labels.append(SourceLabel(name, values, channel))
    return _distinct(labels, source)


def _monai_channels(data_format: Mapping[str, Any], source: str) -> tuple[SourceLabel, ...]:
    outputs = data_format.get("outputs") or {}
    output = outputs.get("pred") or (next(iter(outputs.values())) if len(outputs) == 1 else None)
    channels = output.get("channel_def") if isinstance(output, dict) else None
    if not isinstance(channels, dict) or not channels:
        raise InputError(f"{source}: network_data_format.outputs has no 'pred' output with a channel_def naming its "
                         "channels; the bundle's metadata.json must name what each output channel is")
    if not all(_is_integer(key) for key in channels):
        raise InputError(f"{source}: channel_def keys must be channel numbers, found {sorted(channels)[:5]}")
    return _distinct([SourceLabel(str(name), (int(key),), int(key)) for key, name in channels.items()
                      if int(key) != 0 and str(name).lower() != _BACKGROUND], source)


def _sidecar_labels(segments: Sequence[Any], source: str) -> tuple[SourceLabel, ...]:
    labels = []
    for n, entry in enumerate(segments):
        try:
            value = int(entry["label_value"])
            description = SegmentDescription(
                number=value, label=str(entry["label"]), type=Code.from_json(entry["type"]),
                **({"category": Code.from_json(entry["category"])} if entry.get("category") else {}))
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"{source}: segments[{n}] needs label_value, label and type ({error})") from None
        labels.append(SourceLabel(description.label, (value,), value, description))
    return _distinct(labels, source)


def _distinct(labels: list[SourceLabel], source: str) -> tuple[SourceLabel, ...]:
    seen: dict[str, SourceLabel] = {}
    for label in labels:
        if label.name in seen:
            raise InputError(f"{source} names two labels '{label.name}' ({seen[label.name]} and {label}); give each "
                             "label its own name")
        seen[label.name] = label
    return tuple(labels)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())


# ----------------------------------------------------------------------------- TotalSegmentator's NIfTI header
def label_table_in_nifti(path: str | os.PathLike[str]) -> LabelTable | None:
    """The label table a NIfTI file carries in a header extension (TotalSegmentator's ``--ml`` output), or None.

    The extension (NIfTI-1: after the 348-byte header and its 4-byte extender) holds an XML
    ``<LabelTable>`` of ``<Label Key="value">name</Label>`` entries.
    """
    path = Path(path)
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        return None
    for code, content in header_extensions(path):
        table = _caret_label_table(content)
        if table:
            labels = [SourceLabel(name, (value,), value) for value, name in table
                      if value != 0 and name.lower() != _BACKGROUND]
            return LabelTable(_distinct(labels, str(path)), f"{path} (label table in its NIfTI header, code {code})")
    return None


_LABEL = re.compile(rb"<Label\b([^>]*)>(.*?)</Label>", re.DOTALL)
_KEY = re.compile(rb"""\bKey\s*=\s*["']\s*(\d+)\s*["']""")
_CDATA = re.compile(rb"^\s*<!\[CDATA\[(.*)\]\]>\s*$", re.DOTALL)


def _caret_label_table(content: bytes) -> list[tuple[int, str]]:
    """``[(value, name)]`` of a Caret-style ``<LabelTable>`` (the names may be CDATA sections)."""
    if b"<LabelTable" not in content:
        return []
    import html

    table = []
    for attributes, text in _LABEL.findall(content):
        key = _KEY.search(attributes)
        if key is None:
            continue
        cdata = _CDATA.match(text)
        name = cdata.group(1).decode("utf-8", "replace") if cdata else html.unescape(text.decode("utf-8", "replace"))
        table.append((int(key.group(1)), name.strip()))
    return table
