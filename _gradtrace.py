"""What ``nn`` and ``viz`` check first: that ``import autograd`` gives gradtrace's engine.

PyPI has another package named ``autograd`` (HIPS autograd, a dependency of several
scientific packages). Where it comes first on ``sys.path``, gradtrace's ``nn`` and ``viz``
would fail deep inside with ``cannot import name 'Value' from 'autograd'``. They import
this module first instead, which then raises an ImportError that names the clash, the other
package's path and the way out.
"""

from __future__ import annotations

import importlib


def require_gradtrace_autograd() -> None:
    """Raise ImportError, saying what to do, when ``autograd`` is not gradtrace's."""
    autograd = importlib.import_module("autograd")
    if hasattr(autograd, "Value") and hasattr(autograd, "OPS"):
        return
    where = getattr(autograd, "__file__", None) or ", ".join(getattr(autograd, "__path__", [])) or "an unknown place"
    raise ImportError(
        f"gradtrace's nn and viz need gradtrace's autograd package, but `import autograd` found another package "
        f"named autograd at {where} (probably HIPS autograd from PyPI, `pip install autograd`). The two cannot "
        "share one Python environment. Fix: install gradtrace in a virtual environment of its own "
        "(python3 -m venv .venv && .venv/bin/pip install gradtrace, or `make` in gradtrace's checkout), "
        "or run `pip uninstall autograd` and then reinstall gradtrace."
    )


require_gradtrace_autograd()
