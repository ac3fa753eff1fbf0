"""gradtrace's viz: computation graphs drawn like the lectures' figures, rendered to SVG with
nothing but pip (no system Graphviz), shown inline in Jupyter; matplotlib plots for training (with a Hangul font for the lectures' terms).

>>> from autograd import Value
>>> from viz import draw_dot
>>> apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
>>> price = apple * num * tax
>>> price.backward()
>>> graph = draw_dot(price, style="lecture")
>>> "apple" in graph.source and "×" in graph.source
True
"""

import _gradtrace  # noqa: F401  # first: an ImportError that says what to do when `autograd` is HIPS autograd

from .draw import DEFAULT_MAX_NODES, GRAD_COLORS, draw_dot, plot_dot_graph
from .explain import Explanation, Explanations, explain
from .fonts import hangul_font_path, use_hangul_font
from .network import NETWORK_STYLES, draw_network
from .nudge import Nudge, nudge, nudge_slider
from .player import Player, Step, backprop_player
from .plots import plot_activation, plot_confusion_matrix, plot_decision_boundary, plot_history
from .render import RENDERERS, Graph, RendererError

__all__ = [
    "DEFAULT_MAX_NODES",
    "GRAD_COLORS",
    "Explanation",
    "Explanations",
    "NETWORK_STYLES",
    "Nudge",
    "RENDERERS",
    "Graph",
    "Player",
    "RendererError",
    "Step",
    "backprop_player",
    "draw_dot",
    "draw_network",
    "explain",
    "hangul_font_path",
    "nudge",
    "nudge_slider",
    "plot_activation",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_dot_graph",
    "plot_history",
    "use_hangul_font",
]
