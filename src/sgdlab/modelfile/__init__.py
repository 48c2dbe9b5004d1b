"""A model file is a problem: any PyTorch model a user brings gets every study.

A model file is one Python file defining ``data()``, ``model()`` and ``loss(output, target)``
(optionally ``accuracy(output, target)``); ``FORMAT`` below is the example ``sgdlab train --help``
shows. ``source.py`` reads it (or takes an object from Python), ``checks.py`` refuses bad input
in one line each before anything is recorded, ``run.py`` trains it on the run scaffold,
``stacked.py`` is its vectorized sweep (torch.func), ``theory.py`` hands it to ``sgdlab.theory``.
"""

FORMAT = '''\
# mynet.py: sgdlab train mynet.py --lr 0.1 --batch-size 32 --epochs 2
import torch
from torch import nn


def data():  # {"train": (x, y), "test": (x, y)}; "test" is optional
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 10, generator=g)
    y = (x[:, 0] > 0).long()
    return {"train": (x[:400], y[:400]), "test": (x[400:], y[400:])}


def model():  # sgdlab seeds torch first: a seed fixes the weights
    return nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 2))


def loss(output, target):  # the batch's mean loss, a scalar tensor
    return nn.functional.cross_entropy(output, target)


def accuracy(output, target):  # optional: the fraction correct
    return (output.argmax(1) == target).float().mean()
'''
