"""Users' names as DICOM Person Names (PN) and back.

Store users are logins ("ann"); DICOM wants ``Family^Given``. A single component is written
with a trailing caret (PS3.5 6.2.1.2: the family name alone, said explicitly), so readers and
highdicom do not take it for a malformed name; reading strips that caret again.
"""

from __future__ import annotations


def to_person_name(name: str) -> str:
    """``name`` as a PN value: unchanged when it has components, else the family name with a caret."""
    name = name.strip()
    return name if "^" in name or "=" in name else f"{name}^"


def from_person_name(value: object) -> str | None:
    """A PN value as the name the user knows (trailing empty components removed), or None when empty."""
    text = str(value).rstrip("^") if value else ""
    return text or None
