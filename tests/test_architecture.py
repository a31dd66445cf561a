"""The layout rules of DESIGN.md, checked on the source."""

import ast
from pathlib import Path


def test_the_apps_import_only_to_their_right():
    """DESIGN.md: programs → scheduling → patients → clinic, never the other way."""
    order = ["clinic", "patients", "scheduling", "programs"]
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for rank, app in enumerate(order):
        higher = set(order[rank + 1 :])
        for path in (root / app).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                offenders += [
                    f"{path.relative_to(root)} imports {name}"
                    for name in names
                    if name.split(".")[0] in higher
                ]
    assert offenders == []
