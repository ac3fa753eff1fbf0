"""The lectures' apple-price graph, drawn in both styles to SVG files under out/.

Run: python examples/drawing.py [output folder]   (make demo runs it)
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograd import Value
from viz import draw_dot

OUT = Path(__file__).resolve().parent.parent / "out"


def apple_price() -> Value:
    """100 won apples, two of them, 10% tax: price = apple × apple_num × tax, after backward."""
    apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * num * tax
    price.label = "price"
    price.backward()
    return price


def main(out_dir: Path = OUT) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    price = apple_price()
    written = []
    for style in ("record", "lecture"):
        written.append(draw_dot(price, style=style).save(out_dir / f"apple_price_{style}.svg"))
    print("\n== Drawings of the apple-price graph (open them in a web browser) ==")
    for path in written:
        print(f"wrote {_shown(path)}")
    return written


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it (``out/...`` after make demo)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
