"""The docs ship with the code: every link in README and docs/ points to a file of this repository."""

from __future__ import annotations

import re

from conftest import REPO

LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_links_stay_inside_the_repository_and_resolve():
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md")), REPO / "benchmarks" / "README.md"]
    problems = []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if REPO.resolve() not in path.parents and path != REPO.resolve():
                problems.append(f"{page.relative_to(REPO)}: {target} is outside the repository")
            elif not path.exists():
                problems.append(f"{page.relative_to(REPO)}: {target} does not exist")
    assert not problems, "\n".join(problems)


def test_the_readme_names_the_docs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for doc in ("docs/architecture.md", "docs/cli.md", "docs/protocols.md", "docs/testing.md"):
        assert f"]({doc})" in readme, doc
        assert (REPO / doc).is_file(), doc
