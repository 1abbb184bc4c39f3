"""The code stays `ruff check` clean and keeps the import contracts of pyproject.toml."""

import subprocess
import sys
from pathlib import Path

from tests.support.runs import ROOT


def test_ruff_check_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_are_kept():
    # The console script beside this interpreter: import-linter has no `python -m` entry.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
