"""The lectures' apple-price backward pass as a player: docs/figures/player.gif and out/apple_player.html.

Run: python examples/player.py [gif path [html path]]   (the README shows the GIF)
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograd import Value
from viz import Player, backprop_player

ROOT = Path(__file__).resolve().parent.parent
GIF = ROOT / "docs" / "figures" / "player.gif"
HTML = ROOT / "out" / "apple_player.html"


def apple_price_player() -> Player:
    """100 won apples, two of them, 10% tax, played forward and backward (no backward() needed)."""
    apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * num * tax
    price.label = "price"
    return backprop_player(price, style="lecture")


def main(gif: Path = GIF, html: Path = HTML) -> list[Path]:
    player = apple_price_player()
    written = []
    for path in (gif, html):
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(player.save(path))
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main(*(Path(arg) for arg in sys.argv[1:3]))
