"""Package APIs whose modules load on first use (PEP 562 module ``__getattr__``).

Each concept package names its public API in its ``__init__`` as a table {module: [names]}.
Importing the package costs nothing more; a name's module is imported when the name is first
used. A command then pays only for what it runs: ``seg info`` loads the SEG reader, not
SimpleITK, scipy or SQLAlchemy, which it would if every package imported all its modules
(the SEG writer's lead over dcmqi is half import time).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def public_api(package: str, table: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any],
                                                                        Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` exporting ``table``'s names from its modules."""
    home = {name: module for module, names in table.items() for name in names}
    shadowed = sorted(set(home) & set(table))
    if shadowed:  # importing the module would set the package's attribute to the module, not the name
        raise ValueError(f"{package} exports {shadowed}, which are also its module names; rename the module")

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook's name)
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # the next use is a plain attribute
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(home)

    return __getattr__, __dir__, sorted(home)
