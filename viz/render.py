"""DOT text → SVG/PNG with a renderer installed by pip, and the Graph object draw_dot returns.

The default renderer is ``graphviz-pure``: a self-contained port of Graphviz 16.1.0 that pip
installs as a program next to Python (it has no Python module). It writes the same bytes on every
platform, so drawings compare equal everywhere. A system Graphviz ``dot`` can be chosen with
``renderer="system"``; its output depends on the installed version and fonts.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import numbers
import os
import shutil
import signal
import subprocess
from pathlib import Path

from ._atomic import atomic_open

__all__ = ["RENDERERS", "Graph", "RendererError", "render"]

# renderer name → the output formats it can write
RENDERERS: dict[str, tuple[str, ...]] = {
    "graphviz-pure": ("svg", "png"),
    "system": ("svg", "png", "pdf"),
}
DEFAULT_RENDERER = "graphviz-pure"
# seconds a renderer may take for one drawing; Graph.svg, pipe and save take another
DEFAULT_TIMEOUT = 120.0
# what to do when a renderer's program is gone or broken
_REINSTALL = {
    "graphviz-pure": "reinstall it: pip install --force-reinstall graphviz-pure",
    "system": "reinstall Graphviz (for example: apt install graphviz), or use the default renderer='graphviz-pure'",
}
_OTHER = {"graphviz-pure": "system", "system": "graphviz-pure"}
# DOT text itself needs no renderer
_SOURCE_SUFFIXES = (".dot", ".gv")


class RendererError(RuntimeError):
    """The renderer is missing, failed, or cannot write the requested format."""


@functools.cache
def _program(renderer: str) -> str:
    """Path of the renderer's executable, looked up once per session.

    graphviz-pure is found through its installed files (so it works with PATH masked,
    e.g. in a venv that is not activated), then on PATH.
    """
    if renderer == "graphviz-pure":
        try:
            files = importlib.metadata.distribution("graphviz-pure").files or []
        except importlib.metadata.PackageNotFoundError:
            files = []
        for file in files:
            if file.parent.name in ("bin", "Scripts") and file.stem == "graphviz-pure":
                path = Path(str(file.locate())).resolve()
                if path.is_file():
                    return str(path)
        found = shutil.which("graphviz-pure")
        if found:
            return found
        raise RendererError(
            "the graphviz-pure renderer is not installed; it is a dependency of gradtrace: "
            "pip install graphviz-pure (or pass renderer='system' to use an installed Graphviz 'dot')"
        )
    if renderer == "system":
        found = shutil.which("dot")
        if found:
            return found
        raise RendererError(
            "renderer='system' needs Graphviz's 'dot' on PATH and none was found; "
            "use the default renderer='graphviz-pure', installed with gradtrace"
        )
    raise ValueError(f"unknown renderer {renderer!r}; choose one of {sorted(RENDERERS)}")


def check_renderer(renderer: str) -> None:
    """ValueError for a renderer name that is not one of RENDERERS."""
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r}; choose one of {sorted(RENDERERS)}")


def render(source: str, fmt: str = "svg", renderer: str = DEFAULT_RENDERER, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Lay out DOT ``source`` with the ``dot`` engine and return the ``fmt`` output as bytes.

    Raises:
        RendererError: the renderer is missing, cannot run, fails, crashes or takes longer
            than ``timeout`` seconds; the message says what to do.
    """
    check_renderer(renderer)
    check_timeout(timeout)
    formats = RENDERERS[renderer]
    if fmt not in formats:
        raise RendererError(f"renderer {renderer!r} writes {', '.join(formats)}; got format {fmt!r}")
    program = _program(renderer)
    try:
        done = subprocess.run(
            [program, "-Kdot", f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RendererError(
            f"{renderer} took longer than {timeout} s to lay out the graph; draw less of it "
            "(draw_dot(..., depth=k)), or give it more time: graph.svg(timeout=...), graph.save(path, timeout=...)"
        ) from None
    except FileNotFoundError:
        _program.cache_clear()  # look it up afresh next time: it may be reinstalled elsewhere
        raise RendererError(
            f"the {renderer} program {program} is gone (uninstalled or moved since it was found); {_REINSTALL[renderer]}"
        ) from None
    except PermissionError:
        raise RendererError(
            f"the {renderer} program {program} cannot be run: it is not executable (permission denied); "
            f"make it executable (chmod +x {program}), or {_REINSTALL[renderer]}"
        ) from None
    except OSError as error:  # such as "Exec format error": a damaged or foreign program
        raise RendererError(f"the {renderer} program {program} cannot be run ({error.strerror}); {_REINSTALL[renderer]}") from None
    said = _clip(done.stderr.decode("utf-8", "replace").strip())
    if done.returncode < 0:
        number = -done.returncode
        try:
            name = f" ({signal.Signals(number).name})"
        except ValueError:
            name = ""
        raise RendererError(
            f"{renderer} was killed by signal {number}{name} while laying out the graph"
            + (f" and said: {said}" if said else "")
            + "; if nothing on this machine stopped it, it crashed: draw less (draw_dot(..., depth=k)) or try "
            f"renderer={_OTHER[renderer]!r}, and please report the graph's DOT text (graph.source) with the crash"
        )
    if done.returncode != 0:
        raise RendererError(f"{renderer} failed (exit {done.returncode}): {said or 'it gave no reason'}")
    if not done.stdout:
        raise RendererError(
            f"{renderer} succeeded but wrote no {fmt}" + (f" (it said: {said})" if said else "") + f"; {_REINSTALL[renderer]}"
        )
    return done.stdout


def render_svg(source: str, renderer: str = DEFAULT_RENDERER, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The SVG text of DOT ``source`` (see :func:`render`); RendererError if it is not UTF-8."""
    data = render(source, "svg", renderer, timeout)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RendererError(
            f"{renderer} wrote SVG that is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            f"Graphviz writes UTF-8, so the program is damaged or not Graphviz: {_REINSTALL[renderer]}"
        ) from None


def check_timeout(timeout: object) -> None:
    """ValueError unless timeout is a finite number of seconds > 0."""
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not 0 < timeout < math.inf:
        raise ValueError(f"timeout must be a finite number of seconds > 0; got {timeout!r}")


def _clip(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class Graph:
    """A drawing: its DOT text, rendered to SVG on demand; shows itself in Jupyter.

    Attributes:
        source: the DOT text (needs no renderer).
        renderer: which renderer :meth:`svg` and :meth:`save` use.
    """

    def __init__(self, source: str, renderer: str = DEFAULT_RENDERER) -> None:
        check_renderer(renderer)
        self.source = source
        self.renderer = renderer
        self._svg: str | None = None

    def svg(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The drawing as SVG text (rendered once, then cached); the renderer may take ``timeout`` seconds."""
        check_timeout(timeout)
        if self._svg is None:
            self._svg = render_svg(self.source, self.renderer, timeout)
        return self._svg

    def pipe(self, fmt: str = "svg", timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The drawing in ``fmt`` ("svg", "png", or "pdf" with the system renderer) as bytes."""
        if fmt == "svg":
            return self.svg(timeout).encode("utf-8")
        return render(self.source, fmt, self.renderer, timeout)

    def save(self, path: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT) -> Path:
        """Write the drawing to ``path``; the suffix picks the format.

        ``.svg`` always works; ``.png`` (and ``.pdf`` with ``renderer="system"``) where the
        renderer writes it; ``.dot``/``.gv`` write the DOT text. The file is written to a
        temporary name and then renamed, so a failed render or write leaves the old file as
        it was; names, permissions and symbolic links behave as with ``open(path, "w")``.
        The renderer may take ``timeout`` seconds.
        """
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in _SOURCE_SUFFIXES:
            data = self.source.encode("utf-8")
        else:
            formats = RENDERERS[self.renderer]
            fmt = suffix.lstrip(".")
            if fmt not in formats:
                accepted = ", ".join(f".{f}" for f in formats + ("dot", "gv"))
                raise ValueError(
                    f"Graph.save: cannot write {suffix or 'a file without a suffix'} ({target.name!r}) "
                    f"with renderer {self.renderer!r}; it writes {accepted}"
                )
            data = self.pipe(fmt, timeout)
        with atomic_open(target, binary=True) as file:
            file.write(data)
        return target

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg()}

    def __repr__(self) -> str:
        return f"<viz.Graph: {self.source.count(chr(10))} lines of DOT, renderer={self.renderer!r}>"
