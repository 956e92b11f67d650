"""The protocol model: what a project lead decides before annotation starts.

A :class:`Protocol` is immutable and always valid: it is built from a file through
:func:`Protocol.from_dict`, which reports every problem at once with its JSON path, and a
protocol assembled in code is checked the same way. Everything downstream (the Slicer
module creating coded segments, SEG export numbering segments by ``label_value``, consensus
matching segments by their codes) can therefore rely on unique labels, label values and codes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dicom import Code
from ..errors import ProtocolError
from ..imaging import DEFAULT_COLOR, SegmentDescription

Color = tuple[int, int, int]


class AnnotationKind(enum.Enum):
    """How a structure is annotated; volume and contour structures become DICOM SEG segments."""

    VOLUME = "volume"
    CONTOUR = "contour"
    BOX = "box"
    LANDMARK = "landmark"
    CLASSIFICATION = "classification"

    @property
    def is_segment(self) -> bool:
        """True for kinds that end up as voxels (label maps, SEG segments)."""
        return self in (AnnotationKind.VOLUME, AnnotationKind.CONTOUR)


class ConsensusMethod(enum.Enum):
    """How several annotators' masks become one."""

    MAJORITY = "majority"
    STAPLE = "staple"


class ReviewRole(enum.Enum):
    """Who may act in a review tier (the review store's user roles)."""

    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    RADIOLOGIST = "radiologist"
    LEAD = "lead"


@dataclass(frozen=True)
class WindowPreset:
    """A display window in the image's units (Hounsfield units on CT)."""

    name: str
    center: float
    width: float

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise ValueError(f"Window preset '{self.name}' needs a width greater than 0, found {self.width}")

    @property
    def lower(self) -> float:
        return self.center - self.width / 2

    @property
    def upper(self) -> float:
        return self.center + self.width / 2

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "center": self.center, "width": self.width}


#: Built-in CT windows (Hounsfield units), the usual teaching values (e.g. Radiopaedia's
#: "Windowing (CT)"); a protocol names them ("lung") or gives its own {name, center, width}.
CT_WINDOW_PRESETS: dict[str, WindowPreset] = {
    preset.name: preset
    for preset in (
        WindowPreset("lung", -600, 1500),
        WindowPreset("mediastinum", 50, 350),
        WindowPreset("bone", 400, 1800),
        WindowPreset("brain", 40, 80),
        WindowPreset("subdural", 75, 200),
        WindowPreset("abdomen", 50, 400),
        WindowPreset("liver", 30, 150),
    )
}


@dataclass(frozen=True)
class SUVThreshold:
    """A PET segmentation aid: a region's voxels at or above a fixed SUV (``suv``, e.g. 2.5) or a fraction of the
    region's SUVmax (``fraction_of_max``, e.g. 0.41, the usual fixed-threshold MTV of the EANM guideline)."""

    name: str
    suv: float | None = None
    fraction_of_max: float | None = None

    def __post_init__(self) -> None:
        if (self.suv is None) == (self.fraction_of_max is None):
            raise ValueError(f"SUV threshold '{self.name}' needs either a fixed SUV or a fraction of SUVmax")

    def level(self, suv_max: float) -> float:
        """The SUV at and above which a voxel of a region whose maximum is ``suv_max`` is in."""
        return self.suv if self.suv is not None else self.fraction_of_max * suv_max

    def to_dict(self) -> dict[str, Any]:
        value = {"suv": self.suv} if self.suv is not None else {"fraction_of_max": self.fraction_of_max}
        return {"name": self.name, **value}


@dataclass(frozen=True)
class ModalitySettings:
    """What differs by modality in one case (a PET/CT, an echo's colour loops): the window presets, whether the
    images are colour (then shown as stored: no window applies) and, on PET, SUV thresholds."""

    window_presets: tuple[WindowPreset, ...] = ()
    color: bool = False
    suv_thresholds: tuple[SUVThreshold, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"window_presets": [preset.to_dict() for preset in self.window_presets]}
        if self.color:
            data["color"] = True
        if self.suv_thresholds:
            data["suv_thresholds"] = [threshold.to_dict() for threshold in self.suv_thresholds]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModalitySettings:
        return cls(tuple(parse_window_preset(p) for p in data.get("window_presets", ())), bool(data.get("color")),
                   tuple(SUVThreshold(t["name"], t.get("suv"), t.get("fraction_of_max"))
                         for t in data.get("suv_thresholds", ())))


@dataclass(frozen=True)
class View:
    """An image a case holds: its view (View Code Sequence, CID 4014) and laterality (CID 244)."""

    view: Code
    laterality: Code | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.view.as_dict(), **({"laterality": self.laterality.as_dict()} if self.laterality else {})}

    def __str__(self) -> str:
        return f"{self.laterality.meaning} {self.view.meaning}" if self.laterality else self.view.meaning


class EjectionFractionMethod(enum.Enum):
    """How end-diastolic and end-systolic volumes are found (:mod:`..sr.ventricular_function`)."""

    AREA_LENGTH = "area-length"  # single plane: V = 8 A^2 / (3 pi L) from each outline
    VOLUMES = "volumes"  # the segments' own volumes (3D echo, cine MR stacks)


@dataclass(frozen=True)
class EjectionFractionRule:
    """Ejection fraction of the ventricle outlined by two structures, at end diastole and end systole."""

    method: EjectionFractionMethod
    end_diastolic: str
    end_systolic: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", EjectionFractionMethod(self.method))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method.value, "end_diastolic": self.end_diastolic, "end_systolic": self.end_systolic}


@dataclass(frozen=True)
class ReviewTier:
    """One review step after submission, e.g. ("Radiologist sign-off", RADIOLOGIST)."""

    name: str
    role: ReviewRole

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", ReviewRole(self.role))


@dataclass(frozen=True)
class Consensus:
    """How submissions are merged: method and the fraction of agreement that counts."""

    method: ConsensusMethod = ConsensusMethod.MAJORITY
    threshold: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", ConsensusMethod(self.method))
        if not 0 < self.threshold <= 1:
            raise ValueError(f"The consensus threshold must be in (0, 1], found {self.threshold}")


@dataclass(frozen=True)
class ReferenceImage:
    """An example image for annotators: a path relative to the protocol file, or a URL."""

    path: str
    caption: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, **({"caption": self.caption} if self.caption else {})}


@dataclass(frozen=True)
class Guidance:
    """Instructions text with optional reference images."""

    text: str
    reference_images: tuple[ReferenceImage, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.reference_images:
            data["reference_images"] = [image.to_dict() for image in self.reference_images]
        return data


@dataclass(frozen=True)
class EdgeCase:
    """A situation annotators disagree on, and the rule the project follows."""

    title: str
    text: str
    reference_images: tuple[ReferenceImage, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, **Guidance(self.text, self.reference_images).to_dict()}


@dataclass(frozen=True)
class ExpectedCount:
    """How many instances of a structure a case should have (``max`` None: no upper limit)."""

    min: int = 0
    max: int | None = None

    def allows(self, count: int) -> bool:
        return count >= self.min and (self.max is None or count <= self.max)

    def to_dict(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max}

    def __str__(self) -> str:
        if self.max == self.min:
            return str(self.min)
        return f"{self.min}+" if self.max is None else f"{self.min}-{self.max}"


@dataclass(frozen=True)
class StructureTemplate:
    """One structure of a protocol: its label, codes, colour, annotation kind and rules.

    For a classification, ``type`` is the question (the concept name written to the SR) and
    ``values`` are the allowed coded answers; ``applies_to`` names the structures whose
    findings it classifies (empty: the whole case). A classification takes one value per
    target; ``required`` means every target must get one.
    """

    label: str
    kind: AnnotationKind
    type: Code
    category: Code | None = None
    type_modifier: Code | None = None
    anatomic_region: Code | None = None
    anatomic_region_modifier: Code | None = None
    color: Color | None = None
    required: bool = False
    label_value: int | None = None
    values: tuple[Code, ...] = ()
    applies_to: tuple[str, ...] = ()
    expected_count: ExpectedCount | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AnnotationKind(self.kind))
        object.__setattr__(self, "values", tuple(self.values))
        object.__setattr__(self, "applies_to", tuple(self.applies_to))
        if self.color is not None:
            object.__setattr__(self, "color", tuple(int(c) for c in self.color))
        if self.expected_count is None:
            object.__setattr__(self, "expected_count", default_expected_count(self.kind, self.required))

    @property
    def display_color(self) -> Color:
        """The colour to show (Slicer's default segment colour when the protocol gives none)."""
        return self.color if self.color is not None else DEFAULT_COLOR

    def segment_description(self) -> SegmentDescription:
        """The coded segment description of a volume or contour structure (number = label_value)."""
        if not self.kind.is_segment or self.label_value is None or self.category is None:
            raise ValueError(f"Structure '{self.label}' is a {self.kind.value} structure, not a segment")
        return SegmentDescription(
            number=self.label_value, label=self.label, category=self.category, type=self.type,
            type_modifier=self.type_modifier, anatomic_region=self.anatomic_region,
            anatomic_region_modifier=self.anatomic_region_modifier if self.anatomic_region else None,
            color=self.display_color,
        )

    def to_dict(self) -> dict[str, Any]:
        """The protocol-file form (canonical: colours as '#rrggbb', counts as {min, max})."""
        data: dict[str, Any] = {"label": self.label, "kind": self.kind.value}
        if self.description:
            data["description"] = self.description
        if self.label_value is not None:
            data["label_value"] = self.label_value
        for name in ("category", "type", "type_modifier", "anatomic_region", "anatomic_region_modifier"):
            code = getattr(self, name)
            if code is not None:
                data[name] = code.as_dict()
        if self.color is not None:
            data["color"] = "#{:02x}{:02x}{:02x}".format(*self.color)
        data["required"] = self.required
        if self.values:
            data["values"] = [value.as_dict() for value in self.values]
        if self.applies_to:
            data["applies_to"] = list(self.applies_to)
        if self.kind is not AnnotationKind.CLASSIFICATION:
            data["expected_count"] = self.expected_count.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StructureTemplate:
        """From a validated protocol-file entry."""

        def code(name: str) -> Code | None:
            return Code.from_dict(data[name]) if data.get(name) is not None else None

        required = bool(data.get("required", False))
        applies_to = data.get("applies_to", ())
        return cls(
            label=data["label"], kind=AnnotationKind(data["kind"]), type=Code.from_dict(data["type"]),
            category=code("category"), type_modifier=code("type_modifier"),
            anatomic_region=code("anatomic_region"), anatomic_region_modifier=code("anatomic_region_modifier"),
            color=parse_color(data["color"]) if "color" in data else None, required=required,
            label_value=data.get("label_value"), values=tuple(Code.from_dict(v) for v in data.get("values", ())),
            applies_to=(applies_to,) if isinstance(applies_to, str) else tuple(applies_to),
            expected_count=parse_expected_count(data.get("expected_count"), AnnotationKind(data["kind"]), required),
            description=data.get("description"),
        )


#: Set while :meth:`Protocol.from_dict` builds a protocol from data it has just validated (or that was validated
#: before): the constructor's own check of its canonical form would only repeat that work.
_BUILT_FROM_VALIDATED_DATA: ContextVar[bool] = ContextVar("protocol_built_from_validated_data", default=False)


@dataclass(frozen=True)
class Protocol:
    """An annotation protocol; construction validates it (raises :class:`ProtocolError`)."""

    id: str
    version: str
    title: str
    modality: str
    body_part: str
    structures: tuple[StructureTemplate, ...]
    window_presets: tuple[WindowPreset, ...] = ()
    annotators_per_case: int = 1
    review_tiers: tuple[ReviewTier, ...] = ()
    consensus: Consensus = field(default_factory=Consensus)
    instructions: Guidance | None = None
    edge_cases: tuple[EdgeCase, ...] = ()
    description: str | None = None
    #: Settings by modality (sorted pairs, so that the protocol stays hashable).
    modality_settings: tuple[tuple[str, ModalitySettings], ...] = ()
    views: tuple[View, ...] = ()
    ejection_fraction: EjectionFractionRule | None = None
    #: The file it was read from (None when built in code); not part of its identity.
    source: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("structures", "window_presets", "review_tiers", "edge_cases", "views"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        settings = self.modality_settings
        pairs = settings.items() if isinstance(settings, Mapping) else settings
        object.__setattr__(self, "modality_settings", tuple(sorted(pairs, key=lambda pair: pair[0])))
        if _BUILT_FROM_VALIDATED_DATA.get():
            return
        from .validation import validate_protocol_data

        problems = validate_protocol_data(self.to_dict())
        if problems:
            raise ProtocolError(str(self.source or f"protocol '{self.id}'"), [str(p) for p in problems])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: Any, *, source: str | Path | None = None, base_dir: Path | None = None,
                  validated: bool = False) -> Protocol:
        """Validate a parsed protocol file and build the protocol.

        Every problem (schema and semantic) is reported at once in one :class:`ProtocolError`.
        ``base_dir`` is where relative reference-image paths are looked up. ``validated`` says that
        ``data`` is a copy validated before (a project's frozen protocol), which is not checked again;
        the data is checked once either way, not again by the constructor.
        """
        if not validated:
            from .validation import validate_protocol_data

            problems = validate_protocol_data(data, base_dir=base_dir)
            if problems:
                raise ProtocolError(str(source or "protocol"), [str(p) for p in problems])
        token = _BUILT_FROM_VALIDATED_DATA.set(True)
        try:
            return cls._from_valid_dict(data, source)
        finally:
            _BUILT_FROM_VALIDATED_DATA.reset(token)

    @classmethod
    def _from_valid_dict(cls, data: Any, source: str | Path | None) -> Protocol:
        consensus = data.get("consensus", {})
        return cls(
            id=data["id"], version=data["version"], title=data["title"], modality=data["modality"],
            body_part=data["body_part"], description=data.get("description"),
            structures=tuple(StructureTemplate.from_dict(s) for s in data["structures"]),
            window_presets=tuple(parse_window_preset(p) for p in data.get("window_presets", ())),
            annotators_per_case=data.get("annotators_per_case", 1),
            review_tiers=tuple(ReviewTier(t["name"], ReviewRole(t["role"])) for t in data.get("review_tiers", ())),
            consensus=Consensus(ConsensusMethod(consensus.get("method", "majority")),
                                consensus.get("threshold", 0.5)),
            instructions=_guidance(data["instructions"]) if "instructions" in data else None,
            edge_cases=tuple(EdgeCase(e["title"], e["text"], _images(e)) for e in data.get("edge_cases", ())),
            modality_settings=tuple((modality, ModalitySettings.from_dict(settings))
                                    for modality, settings in data.get("modality_settings", {}).items()),
            views=tuple(View(Code.from_dict(v["view"]), Code.from_dict(v["laterality"]) if "laterality" in v else None)
                        for v in data.get("views", ())),
            ejection_fraction=EjectionFractionRule(**data["ejection_fraction"]) if "ejection_fraction" in data
            else None,
            source=Path(source) if source is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The protocol-file form; ``Protocol.from_dict(p.to_dict()) == p``."""
        data: dict[str, Any] = {
            "id": self.id, "version": self.version, "title": self.title,
            **({"description": self.description} if self.description else {}),
            "modality": self.modality, "body_part": self.body_part,
        }
        if self.instructions is not None:
            data["instructions"] = self.instructions.to_dict()
        if self.edge_cases:
            data["edge_cases"] = [case.to_dict() for case in self.edge_cases]
        data["window_presets"] = [preset.to_dict() for preset in self.window_presets]
        if self.modality_settings:
            data["modality_settings"] = {modality: settings.to_dict() for modality, settings in self.modality_settings}
        if self.views:
            data["views"] = [view.to_dict() for view in self.views]
        if self.ejection_fraction is not None:
            data["ejection_fraction"] = self.ejection_fraction.to_dict()
        data["annotators_per_case"] = self.annotators_per_case
        data["review_tiers"] = [{"name": t.name, "role": t.role.value} for t in self.review_tiers]
        data["consensus"] = {"method": self.consensus.method.value, "threshold": self.consensus.threshold}
        data["structures"] = [structure.to_dict() for structure in self.structures]
        return data

    # ------------------------------------------------------------------ queries
    @property
    def segment_structures(self) -> list[StructureTemplate]:
        """Volume and contour structures, by label value."""
        return sorted((s for s in self.structures if s.kind.is_segment), key=lambda s: s.label_value or 0)

    def segment_descriptions(self) -> list[SegmentDescription]:
        """The coded segments of the protocol (number = label_value), by label value."""
        return [structure.segment_description() for structure in self.segment_structures]

    def structure(self, label: str) -> StructureTemplate:
        """The structure with this label; KeyError naming the known labels otherwise."""
        for structure in self.structures:
            if structure.label == label:
                return structure
        raise KeyError(f"Protocol '{self.id}' has no structure '{label}'; its structures are "
                       + ", ".join(repr(s.label) for s in self.structures))

    def structure_for_segment(self, segment: SegmentDescription) -> StructureTemplate | None:
        """The volume/contour structure a segment is by its codes (category, type, modifier; the anatomic region
        where the protocol names one), whatever its label: how submissions are checked and drafts mapped."""

        def same(a: Code | None, b: Code | None) -> bool:
            return (a is None and b is None) or (a is not None and b is not None and a.matches(b))

        for structure in self.segment_structures:
            if (same(structure.category, segment.category) and structure.type.matches(segment.type)
                    and same(structure.type_modifier, segment.type_modifier)
                    and (structure.anatomic_region is None
                         or same(structure.anatomic_region, segment.anatomic_region))):
                return structure
        return None

    def structure_for_label_value(self, value: int) -> StructureTemplate | None:
        """The volume/contour structure whose label-map value is ``value``, or None."""
        for structure in self.structures:
            if structure.kind.is_segment and structure.label_value == value:
                return structure
        return None

    def classifications_for(self, label: str) -> list[StructureTemplate]:
        """Classification structures that apply to the structure ``label``."""
        return [s for s in self.structures
                if s.kind is AnnotationKind.CLASSIFICATION and label in s.applies_to]

    @property
    def default_window(self) -> WindowPreset | None:
        """The preset applied when a case opens (the first one)."""
        return self.window_presets[0] if self.window_presets else None

    def settings_for(self, modality: str) -> ModalitySettings:
        """The settings of images of ``modality``: its own entry, else the protocol's window presets for the
        protocol's modality, else none (a CT preset never lands on a PET or an ultrasound loop)."""
        for name, settings in self.modality_settings:
            if name == modality:
                return settings
        return ModalitySettings(self.window_presets if modality == self.modality else ())

    def summary(self) -> str:
        """A human-readable description for ``protocol show``."""
        lines = [
            f"{self.title} ({self.id} {self.version})",
            f"Modality {self.modality}, body part {self.body_part}; {self.annotators_per_case} annotator(s) per case; "
            f"consensus {self.consensus.method.value} at {self.consensus.threshold:g}",
        ]
        if self.review_tiers:
            lines.append("Review: " + " -> ".join(f"{t.name} ({t.role.value})" for t in self.review_tiers))
        if self.window_presets:
            lines.append("Windows: " + ", ".join(f"{w.name} {w.center:g}/{w.width:g}" for w in self.window_presets))
        for modality, settings in self.modality_settings:
            shown = [f"{w.name} {w.center:g}/{w.width:g}" for w in settings.window_presets]
            shown += ["colour, no window"] if settings.color else []
            shown += [f"{t.name} (SUV {t.suv:g})" if t.suv is not None else f"{t.name} ({t.fraction_of_max:g} x SUVmax)"
                      for t in settings.suv_thresholds]
            lines.append(f"{modality}: " + ("; ".join(shown) or "no window preset"))
        if self.views:
            lines.append("Views: " + ", ".join(str(view) for view in self.views))
        if self.ejection_fraction is not None:
            rule = self.ejection_fraction
            lines.append(f"Ejection fraction ({rule.method.value}): {rule.end_diastolic} and {rule.end_systolic}")
        lines.append("Structures:")
        for s in self.structures:
            value = f"{s.label_value:>3}" if s.label_value is not None else "  -"
            need = "required" if s.required else "optional"
            codes = f"{s.type.meaning} ({s.type.scheme} {s.type.value})"
            if s.type_modifier:
                codes += f", {s.type_modifier.meaning}"
            if s.anatomic_region:
                codes += f" in {s.anatomic_region.meaning}"
                if s.anatomic_region_modifier:
                    codes += f" ({s.anatomic_region_modifier.meaning})"
            count = str(s.expected_count)
            lines.append(f"  {value}  {s.label:<30} {s.kind.value:<14} {need:<8} count {count:<5} {codes}")
            if s.values:
                lines.append("         values: " + "; ".join(v.meaning for v in s.values))
            if s.applies_to:
                lines.append("         applies to: " + ", ".join(s.applies_to))
        return "\n".join(lines)


# ---------------------------------------------------------------------- parsing helpers
def parse_color(value: str | Iterable[int]) -> Color:
    """'#rrggbb' or [r, g, b] as an RGB tuple (0-255); ValueError naming the value otherwise."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 7 and text.startswith("#"):
            try:
                return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
            except ValueError:
                pass
        raise ValueError(f"A colour must be '#rrggbb' or [r, g, b] with integers 0-255, found {value!r}")
    components = list(value)
    if (len(components) != 3 or not all(isinstance(c, int) and not isinstance(c, bool) for c in components)
            or not all(0 <= c <= 255 for c in components)):
        raise ValueError(f"A colour must be '#rrggbb' or [r, g, b] with integers 0-255, found {value!r}")
    return components[0], components[1], components[2]


def default_expected_count(kind: AnnotationKind, required: bool) -> ExpectedCount:
    """Required: at least one, else none needed; a classification takes one value (per target)."""
    return ExpectedCount(1 if required else 0, 1 if kind is AnnotationKind.CLASSIFICATION else None)


def parse_expected_count(value: int | Mapping[str, Any] | None, kind: AnnotationKind,
                         required: bool) -> ExpectedCount:
    """An integer n means exactly n; absent fields default as in :func:`default_expected_count`."""
    if value is None:
        return default_expected_count(kind, required)
    if isinstance(value, int):
        return ExpectedCount(value, value)
    return ExpectedCount(value.get("min", 1 if required else 0), value.get("max"))


def parse_window_preset(value: str | Mapping[str, Any]) -> WindowPreset:
    """A built-in CT preset name or a {name, center, width} object."""
    if isinstance(value, str):
        return CT_WINDOW_PRESETS[value]
    return WindowPreset(value["name"], value["center"], value["width"])


def _images(data: Mapping[str, Any]) -> tuple[ReferenceImage, ...]:
    return tuple(ReferenceImage(i["path"], i.get("caption")) for i in data.get("reference_images", ()))


def _guidance(data: Mapping[str, Any]) -> Guidance:
    return Guidance(data["text"], _images(data))
