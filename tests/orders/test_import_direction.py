"""The commerce domain never imports the dashboard: pages import orders' services and selectors, not
the other way round (docs/architecture.md, "Edges and errors")."""

from __future__ import annotations

import ast
from pathlib import Path

ORDERS = Path(__file__).resolve().parents[2] / "orders"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_orders_app_imports_the_chat_dashboard() -> None:
    offenders = {str(path.relative_to(ORDERS.parent)): sorted(name for name in imported_modules(path)
                                                              if name == "chat.dashboard"
                                                              or name.startswith("chat.dashboard."))
                 for path in ORDERS.rglob("*.py")}
    assert {path: names for path, names in offenders.items() if names} == {}
