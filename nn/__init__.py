"""gradtrace's nn: neurons, layers and MLPs on top of autograd (to be filled by the nn issue)."""

# nn-classic's names: the lectures' classic learners and the toy data sets
from . import data
from .classic import Adaline, Perceptron

__all__ = ["Adaline", "Perceptron", "data"]
