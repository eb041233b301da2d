"""Every environment variable the product reads is documented in .env.example, and nothing else is."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCT = ("config", "chat", "orders", "tenants")
ENV_METHODS = {"bool", "int", "float", "str", "list", "dict", "json", "url", "path", "db_url", "cache_url",
               "email_url", "search_url"}
# Read by Django itself (which settings module), not by a line of ours.
READ_BY_DJANGO = {"DJANGO_SETTINGS_MODULE"}
# The test settings are the suite's, not an operator's (they read what pytest-xdist sets).
NOT_OPERATED = {ROOT / "config" / "settings" / "test.py"}
DOCUMENTED = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def _name(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name) \
        and node.value.id == "os"


def names_read(tree: ast.AST) -> set[str]:
    """Variable names read through django-environ (`env(...)`, `env.int(...)`, ...) or os.environ
    (`.get`, `[...]`) and os.getenv; writes such as `setdefault` are not reads."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            function = node.func
            reads = (
                (isinstance(function, ast.Name) and function.id == "env")
                or (isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name)
                    and function.value.id == "env" and function.attr in ENV_METHODS)
                or (isinstance(function, ast.Attribute) and function.attr == "get" and _is_os_environ(function.value))
                or (isinstance(function, ast.Attribute) and function.attr == "getenv"
                    and isinstance(function.value, ast.Name) and function.value.id == "os")
            )
            if reads and (name := _name(node.args[0])):
                names.add(name)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_os_environ(node.value):
            if name := _name(node.slice):
                names.add(name)
    return names


def product_modules() -> list[Path]:
    modules = [ROOT / "manage.py"]
    for package in PRODUCT:
        modules += [path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts]
    return [module for module in modules if module not in NOT_OPERATED]


def test_every_variable_read_is_in_env_example_and_every_one_there_is_read() -> None:
    read = READ_BY_DJANGO.copy()
    for module in product_modules():
        read |= names_read(ast.parse(module.read_text(encoding="utf-8"), filename=str(module)))
    documented = DOCUMENTED.findall((ROOT / ".env.example").read_text(encoding="utf-8"))

    assert sorted(read - set(documented)) == [], "read by the product but not documented in .env.example"
    assert sorted(set(documented) - read) == [], "documented in .env.example but read by nothing"
    assert len(documented) == len(set(documented)), "documented twice in .env.example"


def test_the_scan_finds_each_way_of_reading_a_variable() -> None:
    # Given each form the settings and the development runner use
    source = (
        'A = env("PLAIN", default="")\n'
        'B = env.int("TYPED", default=1)\n'
        'C = os.environ.get("FROM_OS", "x")\n'
        'D = os.environ["SUBSCRIPT"]\n'
        'os.environ["WRITTEN"] = "1"\n'
        'os.environ.setdefault("DEFAULTED", "1")\n'
    )
    # Then the reads are found and the writes are not
    assert names_read(ast.parse(source)) == {"PLAIN", "TYPED", "FROM_OS", "SUBSCRIPT"}
