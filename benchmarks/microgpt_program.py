"""examples/microgpt.py on either engine: as written (its own ``Value`` class), or with that
class replaced by ``from autograd import Value``, the one edit a user makes to run it on
gradtrace.

``edited_source()`` makes that edit on the file's text: the lines of the module-level
``class Value`` (found with ``ast``) become one import line, and every other line stays as
it is. ``load(engine, argv)`` runs the program in this process, as ``python microgpt.py
*argv`` would, and returns its module namespace (``state_dict``, ``params``, ``gpt``,
``softmax``, ``document_loss``, ``tokenize``, ``loss_history``, ...). The tests, the
benchmark and notebook 12 use them.
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROGRAM = Path(__file__).resolve().parent.parent / "examples" / "microgpt.py"
ENGINES = ("microgpt", "gradtrace")  # its own Value class; gradtrace's
GRADTRACE_IMPORT = "from autograd import Value"


def edited_source(source: str | None = None) -> str:
    """The program with its ``class Value`` replaced by ``from autograd import Value``."""
    source = PROGRAM.read_text(encoding="utf-8") if source is None else source
    classes = [node for node in ast.parse(source).body if isinstance(node, ast.ClassDef) and node.name == "Value"]
    if len(classes) != 1:
        raise ValueError(f"expected one module-level `class Value` in the program; found {len(classes)}")
    node = classes[0]
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = source.splitlines(keepends=True)
    assert node.end_lineno is not None
    return "".join([*lines[: first - 1], GRADTRACE_IMPORT + "\n", *lines[node.end_lineno :]])


def source(engine: str) -> str:
    """The program's text for ``engine``: "microgpt" (as written) or "gradtrace" (edited)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    return PROGRAM.read_text(encoding="utf-8") if engine == "microgpt" else edited_source()


def load(engine: str, argv: Sequence[str] = (), quiet: bool = True) -> dict[str, Any]:
    """Run the program for ``engine`` in this process with command-line arguments ``argv``
    (``--steps 0 --samples 0`` builds the model and stops); its namespace."""
    namespace: dict[str, Any] = {"__name__": "microgpt", "__file__": str(PROGRAM)}
    text = source(engine)
    # the edited text under a name of its own, in linecache: tracebacks show its lines, and
    # autograd.compile reads the subscripts it gathers by (table[token_id]) from them
    filename = str(PROGRAM) if engine == "microgpt" else f"<{PROGRAM.name}, class Value replaced by gradtrace's>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    code = compile(text, filename, "exec")
    saved_argv = sys.argv
    sys.argv = [str(PROGRAM), *argv]
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            exec(code, namespace)
    finally:
        sys.argv = saved_argv
    return namespace
