"""Check that this environment holds exactly the floors in FLOORS_FILE, and that the file
names every runtime dependency of pyproject.toml at the version it declares (``>=``).

Runtime dependencies are ``project.dependencies`` and the extras in :data:`RUNTIME_EXTRAS`
(installed by users for a feature, e.g. the ledger on PostgreSQL)."""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

RUNTIME_EXTRAS = ("postgres",)


def main(floors_file: str) -> int:
    pinned: dict[str, str] = {}
    for line in Path(floors_file).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pin = line.partition("==")
            pinned[name.strip().lower()] = pin.strip()
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        declared += project["optional-dependencies"][extra]
    problems = []
    for text in declared:
        requirement = Requirement(text)
        floor = next((s.version for s in requirement.specifier if s.operator == ">="), None)
        name = requirement.name.lower()
        if floor is None:
            problems.append(f"{name} declares no >= floor")
        elif pinned.get(name) != floor:
            problems.append(f"{name}: pyproject says >={floor}, floors file {pinned.get(name)}")
        elif version(name) != floor:
            problems.append(f"{name}: {version(name)} is installed, not the floor {floor}")
    for problem in problems:
        print(f"floors: {problem}", file=sys.stderr)
    if not problems:
        print(f"floors: {len(declared)} runtime dependencies at their floors")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
