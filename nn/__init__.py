"""gradtrace's nn: neurons, layers, MLPs, losses, optimizers and training, on top of autograd.

>>> import random
>>> import nn
>>> model = nn.MLP(2, [4, 1], rng=random.Random(0))
>>> model.num_parameters()
17
"""

import _gradtrace  # noqa: F401  # first: an ImportError that says what to do when `autograd` is HIPS autograd

# nn-classic's names: the lectures' classic learners and the toy data sets
from . import data
from .callbacks import Callback, FitState, LRSchedule
from .classic import Adaline, Perceptron
from .compiled import NotCompiledWarning

# nn-core's names: modules, losses, optimizers, training and model files
from .io import ModelFileError, load, save
from .layers import ACTIVATIONS, INITS, MLP, Layer, Neuron
from .losses import LOSSES, bce_loss, bce_with_logits, cross_entropy, hinge_loss, l1_loss, mse_loss
from .module import Module
from .optim import SGD, Adam, Optimizer
from .train import History, fit

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LOSSES",
    "LRSchedule",
    "MLP",
    "SGD",
    "Adaline",
    "Adam",
    "Callback",
    "FitState",
    "History",
    "Layer",
    "ModelFileError",
    "Module",
    "Neuron",
    "NotCompiledWarning",
    "Optimizer",
    "Perceptron",
    "bce_loss",
    "bce_with_logits",
    "cross_entropy",
    "data",
    "fit",
    "hinge_loss",
    "l1_loss",
    "load",
    "mse_loss",
    "save",
]
