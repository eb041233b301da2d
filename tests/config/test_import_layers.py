"""Imports run one way (pyproject.toml's [tool.importlinter], docs/architecture.md): entry points and
interfaces on top, the domain apps in their order, settings and shared plumbing at the bottom."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PACKAGES = ("chat", "config", "orders", "tenants")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "lint-imports"
    assert command.exists(), f"import-linter is not installed beside {sys.executable} (import-linter==2.16)"
    return subprocess.run([str(command), "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root,
                          capture_output=True, text=True, timeout=300)


def test_every_import_contract_is_kept() -> None:
    result = lint_imports(Path(settings.BASE_DIR))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_conversation_module_importing_the_dashboard_breaks_the_layers(tmp_path: Path) -> None:
    # Given a copy of the code where the conversation core reaches up into the dashboard,
    root = Path(settings.BASE_DIR)
    shutil.copy(root / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(root / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    models = tmp_path / "chat" / "conversations" / "models.py"
    models.write_text(models.read_text() + "\nfrom chat.dashboard import selectors  # noqa\n")

    # when the contracts are checked, then the layers contract names that import.
    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert "chat.conversations is not allowed to import chat.dashboard" in result.stdout
    assert "chat.conversations.models -> chat.dashboard.selectors" in result.stdout
