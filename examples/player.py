"""The lectures' apple-price backward pass as a player: docs/figures/player.gif and out/apple_player.html.

Run: python examples/player.py [gif path]   (the README shows the GIF)
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograd import Value
from viz import Player, backprop_player

ROOT = Path(__file__).resolve().parent.parent
GIF = ROOT / "docs" / "figures" / "player.gif"


def apple_price_player() -> Player:
    """100 won apples, two of them, 10% tax, played forward and backward (no backward() needed)."""
    apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * num * tax
    price.label = "price"
    return backprop_player(price, style="lecture")


def main(gif: Path = GIF) -> list[Path]:
    gif.parent.mkdir(parents=True, exist_ok=True)
    player = apple_price_player()
    written = [player.save(gif)]
    (ROOT / "out").mkdir(exist_ok=True)
    written.append(player.save(ROOT / "out" / "apple_player.html"))
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else GIF)
