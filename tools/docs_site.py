"""MkDocs hooks for the docs site (``make docs``; mkdocs.yml names this file under ``hooks``).

The manual's chapters live in ``docs/`` and read as they are on GitHub. The site adds, without
copying anything into ``docs/``:

- the README as the home page (``index.md``), its links into ``docs/`` made relative to the site;
- every notebook in ``notebooks/`` (and ``notebooks/<language>/``), found by a glob, so a new or
  renamed notebook needs no change here; they are listed under "Notebooks" in the navigation and
  rendered with their committed outputs by mkdocs-jupyter;
- ``benchmarks/RESULTS.md`` and ``LICENSE``.

And it keeps the site offline: nbconvert's notebook pages would load MathJax and Mermaid from a
CDN. Mermaid is not used and its loader is removed; the LaTeX that ``viz.explain`` shows becomes
MathML at build time (latex2mathml), which browsers draw without a script. A page that still
refers to the internet for a script, a style sheet, a font or an image fails the build.
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from typing import Any

from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LANGUAGES = {"ko": "한국어"}  # notebooks/<code>/: the heading their section gets in the navigation

log = logging.getLogger("mkdocs.plugins.gradtrace")


def notebooks() -> list[Path]:
    """Every notebook the site shows: notebooks/*.ipynb, then notebooks/<language>/*.ipynb."""
    found = sorted(NOTEBOOKS.glob("*.ipynb"))
    for folder in sorted(p for p in NOTEBOOKS.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found += sorted(folder.glob("*.ipynb"))
    return found


def _title(path: Path) -> str:
    """The notebook's first heading up to its first colon, else its file name (for the navigation)."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            source = "".join(cell.get("source", ""))
            heading = re.search(r"^#{1,2}\s+(.+)$", source, re.M)
            if heading:
                return heading.group(1).split(": ", 1)[0].strip()
    return path.stem.replace("_", " ")


# ---------------------------------------------------------------------------------------- config


class _IndexNotReference(logging.Filter):
    """Docstrings are plain text rendered as Markdown, where ``a[k][j]`` looks like a reference-style
    link to a target "j". A target without a dot is such an index, never an API object (those are
    written viz.draw_dot): not a warning. Any other unresolved reference still fails the build."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not re.search(r"Could not find cross-reference target '[^.']*'$", record.getMessage())


class _Docstrings(Extension):
    """Docstrings are written for ``help()`` and doctest, with Sphinx's roles: in the API pages a
    doctest session (``>>>`` lines and their output) becomes a Python code block, where Markdown
    would make it a quotation, and ``:func:`name``` becomes ``name`` in code."""

    def extendMarkdown(self, md: Any) -> None:  # noqa: N802 - Python-Markdown's name
        md.preprocessors.register(_DocstringPreprocessor(md), "gradtrace_docstrings", 30)


class _DocstringPreprocessor(Preprocessor):
    _ROLE = re.compile(r":(?:func|class|meth|attr|mod|data|exc|obj):`~?([^`]+)`")

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        in_session = fenced = False
        for line in lines:
            if line.lstrip().startswith("```"):
                fenced = not fenced
            if not fenced and not in_session and line.lstrip().startswith(">>>"):
                indent = line[: len(line) - len(line.lstrip())]
                out += ["", f"{indent}```pycon"]
                in_session = True
            elif in_session and not line.strip():
                out += [f"{indent}```", ""]
                in_session = False
            out.append(line if fenced or in_session else self._ROLE.sub(r"`\1`", line))
        if in_session:
            out.append(f"{indent}```")
        return out


def on_config(config: Any) -> Any:
    """Under "Notebooks" in the navigation: notebooks.md, then every notebook found."""
    config["markdown_extensions"].append(_Docstrings())
    autorefs = logging.getLogger("mkdocs.plugins.mkdocs_autorefs._internal.plugin")
    if not any(isinstance(f, _IndexNotReference) for f in autorefs.filters):
        autorefs.addFilter(_IndexNotReference())
    for section in config["nav"]:
        if isinstance(section, dict) and "Notebooks" in section:
            entries = section["Notebooks"]
            break
    else:
        raise ValueError("mkdocs.yml: the navigation needs a 'Notebooks' section")
    by_folder: dict[str, list[dict[str, str]]] = {}
    for path in notebooks():
        relative = path.relative_to(ROOT).as_posix()
        folder = path.parent.relative_to(NOTEBOOKS).as_posix()
        by_folder.setdefault(folder, []).append({_title(path): relative})
    entries.extend(by_folder.pop(".", []))
    for folder, pages in by_folder.items():
        guide = NOTEBOOKS / folder / "README.md"  # the language's own guide (its glossary) comes first
        if guide.exists():
            pages.insert(0, {"안내와 용어집": guide.relative_to(ROOT).as_posix()})
        entries.append({LANGUAGES.get(folder, folder): pages})
    return config


# ----------------------------------------------------------------------------------------- files


@event_priority(100)  # before mkdocs-jupyter's on_files, which picks the notebooks up as pages
def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, "index.md", content=_home_page()))
    # Files of the checkout, as if docs/ were the checkout's root (not File.generated: mkdocs-jupyter's
    # wrapper finds a notebook's path only through src_dir)
    # a language's README.md (notebooks/ko/README.md: its notebooks and glossary) is a page too
    guides = [NOTEBOOKS / code / "README.md" for code in LANGUAGES if (NOTEBOOKS / code / "README.md").exists()]
    for path in [*notebooks(), *guides, ROOT / "benchmarks" / "RESULTS.md", ROOT / "LICENSE"]:
        files.append(File(path.relative_to(ROOT).as_posix(), src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def _home_page() -> str:
    """The README, its links as they resolve in the site (docs/x.md is x.md there)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = text.replace("](docs/", "](")
    text = text.replace("](notebooks/)", "](notebooks.md)")
    return text


# ----------------------------------------------------------------------------------------- pages


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """In docs/*.md, a link that leaves docs/ (../notebooks/x.ipynb, ../benchmarks/RESULTS.md)
    points at a file the site holds at notebooks/x.ipynb, benchmarks/RESULTS.md."""
    if page.file.src_uri.count("/") == 0:
        markdown = re.sub(r"\]\(\.\./(notebooks|benchmarks)/", r"](\1/", markdown)
    return markdown


# nbconvert's loaders: MathJax's (its URL left empty here: `<script src="">`) and its configuration,
# and Mermaid's, a module imported from a CDN
_LOADERS = re.compile(
    r"<script[^>]*src=\"\"[^>]*>\s*</script>"
    r"|<script[^>]*>[^<]*MathJax[\s\S]*?</script>"
    r"|<script[^>]*type=\"module\"[^>]*>[\s\S]*?mermaid[\s\S]*?</script>",
    re.I,
)
_DISPLAY_MATH = re.compile(r"<p>\s*\$\$([\s\S]*?)\$\$\s*</p>")  # an output's $$ ... $$ (viz.explain)
# what would make a browser fetch something: a script, style sheet, image, frame or font from a URL
_REMOTE = re.compile(
    r"""<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc=["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref=["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//""",
    re.I,
)


def on_post_page(output: str, page: Any, config: Any) -> str:
    if page.file.src_uri.endswith(".ipynb"):
        output = _DISPLAY_MATH.sub(_mathml, _LOADERS.sub("", output))
    remote = _REMOTE.search(output)
    if remote:
        start = max(0, remote.start() - 80)
        raise ValueError(
            f"{page.file.src_uri}: the page would fetch from the internet: ...{output[start:remote.end() + 80]}..."
        )
    return output


def _mathml(match: re.Match[str]) -> str:
    from latex2mathml.converter import convert

    return f'<div class="math">{convert(html.unescape(match.group(1)), display="block")}</div>'
