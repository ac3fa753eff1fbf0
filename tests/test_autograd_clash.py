"""PyPI's other `autograd` (HIPS autograd) first on sys.path: `import nn` and `import viz` say so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def hips_first(tmp_path: Path) -> dict[str, str]:
    """A folder that holds a package named autograd shaped like HIPS autograd, first on the path."""
    package = tmp_path / "site" / "autograd"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        '"""Efficiently computes derivatives of numpy code."""\n'
        "def grad(fun, argnum=0):\n    return fun\n\n"
        "def elementwise_grad(fun, argnum=0):\n    return fun\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(package.parent), str(ROOT)])
    return env


@pytest.mark.parametrize("package", ["nn", "viz"])
def test_import_names_gradtrace_the_other_package_and_the_fix(package: str, hips_first: dict[str, str],
                                                                tmp_path: Path) -> None:
    other = Path(hips_first["PYTHONPATH"].split(os.pathsep)[0]) / "autograd" / "__init__.py"
    result = subprocess.run([sys.executable, "-c", f"import {package}"], cwd=tmp_path, env=hips_first,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: gradtrace's nn and viz need gradtrace's autograd package"), result.stderr
    assert str(other) in last and "HIPS autograd" in last
    assert "virtual environment of its own" in last and "pip uninstall autograd" in last
    assert "cannot import name" not in result.stderr  # the clash is named before anything fails inside


def test_with_gradtraces_autograd_nothing_is_raised(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    code = "import nn, viz, autograd; print(autograd.__file__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120, check=True)
    assert Path(result.stdout.strip()) == ROOT / "autograd" / "__init__.py"
