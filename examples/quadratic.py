"""A quadratic: least squares, 0.5 * mean((x w - y)^2), whose Hessian X^T X / n is known.

    sgdlab train examples/quadratic.py --lr 0.5 --batch-size full --steps 50
    sgdlab sharpness examples/quadratic.py --lr 1.5,2.5 --steps 60 --every 10
    sgdlab sweep examples/quadratic.py --lr 0.1,0.5,1,1.5 --batch-size 16,256 --steps 50

The features have scales 1, 0.8, ..., so the Hessian's top eigenvalue is 0.90 and gradient
descent is stable below lr = 2 / lambda_max = 2.23: `sgdlab train` prints the bound; in
`sgdlab sharpness`, lr 1.5 converges and lr 2.5 diverges (the error grows by |1 - 2.5 x 0.90|
per step). On a quadratic the sharpness never moves: it is the same matrix at every point, so
the edge of stability is a sharp line, not a regime.
"""

import torch
from torch import nn

ROWS, FEATURES = 256, 8


def data():
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    x = torch.randn(ROWS, FEATURES, generator=g) * scales
    w = torch.randn(FEATURES, 1, generator=g)
    y = x @ w + 0.1 * torch.randn(ROWS, 1, generator=g)
    return {"train": (x, y)}


def model():
    return nn.Linear(FEATURES, 1, bias=False)


def loss(output, target):
    return 0.5 * ((output - target) ** 2).mean()
