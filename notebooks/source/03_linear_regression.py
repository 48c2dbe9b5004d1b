# %% [markdown]
# # 3 pytorch函数实现梯度下降法: 线性回归 · gradient descent in PyTorch: linear regression
#
# The tutorial's section 3, step by step, in today's PyTorch: same 15 points, same seed (2019),
# one update by hand, then the loop. It prints the tutorial's numbers and checks them (initial
# loss 10.2335, gradients -41.1289 and -6.0890, losses 0.41421, 0.22605, 0.22319, 0.22047).
# The errata of this section are demonstrated where they occur. At the end the same run is one
# call to `sgdlab`.
#
# Chapters: [1 tensors](01_tensors.ipynb) · [2 gradient descent](02_gradient_descent.ipynb) ·
# **3 linear regression** · [4 MNIST with SGD](04_mnist_sgd.ipynb)

# %% [markdown]
# ## 3.1 线性回归的参数的误差更新公式 · the model, the loss and the gradients
#
# ### 3.1.1 线性回归的公式 · the model and the loss
#
# $$\hat{y}_i = w x_i + b, \qquad J = \frac{1}{n} \sum_{i=1}^n (\hat{y}_i - y_i)^2$$
#
# ### 3.1.2 梯度下降 · gradient descent on w and b
#
# $$w := w - \eta \frac{\partial J}{\partial w}, \qquad b := b - \eta \frac{\partial J}{\partial b}$$
#
# ### 3.1.3 线性回归的梯度下降 · the gradients
#
# $$\frac{\partial J}{\partial w} = \frac{2}{n} \sum_{i=1}^n x_i(w x_i + b - y_i), \qquad
# \frac{\partial J}{\partial b} = \frac{2}{n} \sum_{i=1}^n (w x_i + b - y_i)$$
#
# We check these formulas against autograd below, once the data exists.

# %% [markdown]
# ## 3.2 代码实现 · the code
#
# No `from torch.autograd import Variable` and no `%matplotlib inline`: neither is needed today.
# The tutorial seeds the global generator with `torch.manual_seed(2019)`; an explicit
# `torch.Generator` gives the same numbers and keeps this seed from leaking into other code.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

gen = torch.Generator().manual_seed(2019)

# %% [markdown]
# ### 3.2.1 创建张量tensor (测试样本数据) · the data

# %%
x_train = np.array([[3.3], [4.4], [5.5], [6.71], [6.93], [4.168],
                    [9.779], [6.182], [7.59], [2.167], [7.042],
                    [10.791], [5.313], [7.997], [3.1]], dtype=np.float32)

y_train = np.array([[1.7], [2.76], [2.09], [3.19], [1.694], [1.573],
                    [3.366], [2.596], [2.53], [1.221], [2.827],
                    [3.465], [1.65], [2.904], [1.3]], dtype=np.float32)
x_train = torch.from_numpy(x_train)
y_train = torch.from_numpy(y_train)
print(x_train.shape, x_train.dtype)

# %% [markdown]
# ### 3.2.2 创建参数 · the parameters (the tutorial's 创建变量Variable)
#
# `Variable(torch.randn(1), requires_grad=True)` becomes a tensor created with
# `requires_grad=True`. `x_train = Variable(x_train)` is dropped: data needs no wrapper.

# %%
w = torch.randn(1, generator=gen, requires_grad=True)  # 随机初始化
b = torch.zeros(1, requires_grad=True)  # 使用 0 进行初始化
print(w)
print(b)
assert round(w.item(), 4) == -0.1187  # the tutorial's tensor([-0.1187], requires_grad=True)
torch.manual_seed(2019)
assert torch.equal(torch.randn(1), w.detach())  # same number as the tutorial's global seed

# %% [markdown]
# ### 3.2.3 构建计算图: 拟合模型, 损失函数 · the model and the loss
#
# **Erratum:** the tutorial's `get_loss(y_, y)` returns `torch.mean((y_ - y_train) ** 2)`: it
# ignores its `y` argument and reads the global `y_train`. It is right only while every call passes
# `y_train`. The fixed version uses `y`; the cell shows a call where the two differ.

# %%
def linear_model(x):
    return x * w + b


def get_loss(y_, y):
    return torch.mean((y_ - y) ** 2)


def get_loss_as_printed(y_, y):  # the tutorial's version, kept to show the bug
    return torch.mean((y_ - y_train) ** 2)


with torch.no_grad():
    other_targets = torch.zeros_like(y_train)
    y_hat = linear_model(x_train)
    print("targets all zero -> fixed:", get_loss(y_hat, other_targets).item(),
          "| as printed:", get_loss_as_printed(y_hat, other_targets).item())
    assert get_loss(y_hat, y_train) == get_loss_as_printed(y_hat, y_train)  # same for y_train ...
    assert get_loss(y_hat, other_targets) != get_loss_as_printed(y_hat, other_targets)  # ... only

# %% [markdown]
# We also check section 3.1.3's formulas against autograd, at the initial parameters.

# %%
n = x_train.shape[0]
residual = (linear_model(x_train) - y_train).detach()
grad_w_formula = 2 / n * (x_train * residual).sum()
grad_b_formula = 2 / n * residual.sum()
auto_w, auto_b = torch.autograd.grad(get_loss(linear_model(x_train), y_train), [w, b])
print("dJ/dw: formula", grad_w_formula.item(), "autograd", auto_w.item())
print("dJ/db: formula", grad_b_formula.item(), "autograd", auto_b.item())
assert torch.allclose(grad_w_formula, auto_w, rtol=1e-5)
assert torch.allclose(grad_b_formula, auto_b, rtol=1e-5)
assert w.grad is None  # torch.autograd.grad does not touch .grad

# %% [markdown]
# ### 3.2.4 训练模型 · training
#
# #### 3.2.4.1 查看初始化参数的模型 · the model at its initial parameters
#
# Compute the first estimates and their loss, then plot. `matplotlib` takes NumPy arrays; a
# tensor that records gradients must be `.detach()`ed first (the tutorial's `.data.numpy()`).

# %%
y_ = linear_model(x_train)
loss = get_loss(y_, y_train)
print(loss)
assert f"{loss.item():.4f}" == "10.2335"

plt.plot(x_train.numpy(), y_train.numpy(), "bo", label="real")
plt.plot(x_train.numpy(), y_.detach().numpy(), "ro", label="estimated")
plt.legend()
plt.show()

# %% [markdown]
# #### 3.2.4.2 第一次通过损失函数的梯度来优化参数 · the first gradients
#
# Before the first `backward()`, `w.grad` is `None`, which is why the tutorial warns that
# `w.grad.zero_()` fails then ('NoneType' object has no attribute 'zero_').
#
# **Erratum:** the tutorial's output of this cell shows `None` where `print(w.grad)` should be,
# then `-41.1289` and `-6.0890`: four lines for three prints. After `backward()`, `w.grad` is
# `tensor([-41.1289])` and `b.grad` is `tensor([-6.0890])`; the stray `None` is most likely
# `loss.backward()`'s own return value, printed from an earlier version of the cell.

# %%
print(loss)
assert w.grad is None and b.grad is None
try:
    w.grad.zero_()
except AttributeError as exc:
    print("before backward(): w.grad.zero_() ->", exc)
returned = loss.backward()
assert returned is None  # backward() returns None: the likely source of the stray line
print(w.grad)
print(b.grad)
assert f"{w.grad.item():.4f}" == "-41.1289" and f"{b.grad.item():.4f}" == "-6.0890"

# %% [markdown]
# #### 3.2.4.3 根据学习率和梯度更新参数 · one update
#
# The tutorial writes `w.data = w.data - 1e-2 * w.grad.data`. Today: update in place inside
# `torch.no_grad()`, so autograd does not record the update and its safety checks stay on.

# %%
with torch.no_grad():
    w -= 1e-2 * w.grad
    b -= 1e-2 * b.grad
y_ = linear_model(x_train)
plt.plot(x_train.numpy(), y_train.numpy(), "bo", label="real")
plt.plot(x_train.numpy(), y_.detach().numpy(), "ro", label="estimated")
plt.legend()
plt.show()

# %% [markdown]
# #### 3.2.4.4 迭代训练模型的参数 · the loop
#
# **Erratum:** the tutorial's comment says 30 updates (进行 30 次更新) but `range(31)` makes 31;
# with the one above, the model has had 32 updates at the end. Each printed loss is computed
# *before* that epoch's update. `w.grad = None` replaces `w.grad.zero_()` (what
# `optimizer.zero_grad()` does today). The losses agree with the tutorial's to 5 significant
# digits; beyond that, float32 results depend on the order of the additions inside `mean`, which
# differs between PyTorch versions and CPUs (the tutorial printed 0.4142104387..., this machine
# may print 0.4142102003...).

# %%
printed = {}
for e in range(31):  # 31 updates (32 with the one above)
    y_ = linear_model(x_train)
    loss = get_loss(y_, y_train)
    w.grad = None  # 记得归零梯度
    b.grad = None
    loss.backward()
    with torch.no_grad():
        w -= 1e-2 * w.grad  # 更新 w
        b -= 1e-2 * b.grad  # 更新 b
    if e % 10 == 0:
        print("epoch: {}, loss: {}".format(e, loss.item()))
        printed[e] = loss.item()

tutorial = {0: "0.41421", 10: "0.22605", 20: "0.22319", 30: "0.22047"}  # its printed numbers
assert {e: f"{v:.5g}" for e, v in printed.items()} == tutorial
final_w, final_b = w.item(), b.item()
print(f"after 32 updates: w = {final_w:.4f}, b = {final_b:.4f}")

# %%
y_ = linear_model(x_train)
plt.plot(x_train.numpy(), y_train.numpy(), "bo", label="real")
plt.plot(x_train.numpy(), y_.detach().numpy(), "ro", label="estimated")
plt.legend()
plt.show()

# %% [markdown]
# ### The tutorial's own code still runs · 原教程代码
#
# For readers comparing line by line: the retired idioms (`Variable`, `.data` updates) still
# run today and give the same numbers, and so does PyTorch's `torch.optim.SGD`, which replaces the
# hand-written update. (They are the same arithmetic; only the safety differs.)

# %%
from torch.autograd import Variable


def tutorial_as_printed():
    torch.manual_seed(2019)
    w = Variable(torch.randn(1), requires_grad=True)
    b = Variable(torch.zeros(1), requires_grad=True)
    x, y = Variable(x_train), Variable(y_train)
    loss = torch.mean((x * w + b - y) ** 2)
    loss.backward()
    w.data = w.data - 1e-2 * w.grad.data
    b.data = b.data - 1e-2 * b.grad.data
    losses = []
    for e in range(31):
        loss = torch.mean((x * w + b - y) ** 2)
        w.grad.zero_()
        b.grad.zero_()
        loss.backward()
        w.data = w.data - 1e-2 * w.grad.data
        b.data = b.data - 1e-2 * b.grad.data
        losses.append(loss.item())
    return losses, w.item(), b.item()


def with_torch_optim():
    w = torch.randn(1, generator=torch.Generator().manual_seed(2019), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=1e-2)
    losses = []
    for step in range(32):
        loss = torch.mean((x_train * w + b - y_train) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[1:], w.item(), b.item()


legacy_losses, legacy_w, legacy_b = tutorial_as_printed()
optim_losses, optim_w, optim_b = with_torch_optim()
assert [legacy_losses[e] for e in printed] == list(printed.values()) and legacy_w == final_w
assert np.allclose(optim_losses, legacy_losses, rtol=1e-6) and np.isclose(optim_w, final_w)
print("tutorial's code, today's code and torch.optim.SGD agree: final w =", final_w)

# %% [markdown]
# ## 3.3 The same with sgdlab · 用 sgdlab 复现
#
# `sgdlab` packages this lesson: `LinRegConfig()`'s defaults are the tutorial's (its 15 points,
# seed 2019, learning rate 1e-2, 32 full-batch updates, float32). `train` returns the numbers,
# draws the figures and records the run in the store (`$SGDLAB_STORE`, default
# `./sgdlab-runs/runs.db`). On the command line it is `sgdlab linreg`.

# %%
from IPython.display import Image, display
from sgdlab import LinRegConfig, train

r = train(LinRegConfig())
print("status:", r["status"], "| run:", r["run_id"], "| steps:", r["steps"])
print("initial loss {:.4f}, gradients {:.4f} {:.4f}".format(
    r["init"]["loss"], r["init"]["grad_w"][0], r["init"]["grad_b"]))
for e in printed:
    print("epoch: {}, loss: {:.5g}  (above: {:.5g})".format(e, r["losses"][1 + e], printed[e]))

assert f"{r['init']['loss']:.4f}" == "10.2335"
assert f"{r['init']['grad_w'][0]:.4f}" == "-41.1289" and f"{r['init']['grad_b']:.4f}" == "-6.0890"
assert {e: f"{r['losses'][1 + e]:.5g}" for e in printed} == tutorial
assert np.isclose(r["final"]["w"][0], final_w, rtol=1e-5) and np.isclose(r["final"]["b"], final_b, rtol=1e-5)
for path in r["figures"]:
    display(Image(filename=path, width=420))

# %% [markdown]
# What the tutorial does not say: after 32 updates the fit is still far from the best line. The
# least-squares optimum has loss 0.1689, and the largest stable learning rate here is only about
# 0.023 (2 / the largest eigenvalue of the loss's Hessian): the loss surface is a long narrow
# valley (chapter 2's picture), steep in w and flat in b, so b crawls. Standardising x (mean 0,
# std 1) makes the valley round, and a large step then reaches the optimum in a few dozen updates.

# %%
print(f"after 32 updates: loss {r['final']['loss']:.5f}; optimum {r['optimum']['loss']:.5f} "
      f"(w* = {r['optimum']['w'][0]:.4f}, b* = {r['optimum']['b']:.4f}); "
      f"largest stable lr {r['lr_bound']:.4f}")
assert r["gap_to_optimum"] > 0.05 and 0.02 < r["lr_bound"] < 0.025

rounded = train(LinRegConfig(standardize=True, lr=0.5, steps=30, plots=False))
print(f"standardized x, lr 0.5, 30 updates: loss {rounded['final']['loss']:.5f}")
assert abs(rounded["final"]["loss"] - rounded["optimum"]["loss"]) < 1e-5

# %% [markdown]
# Next: [chapter 4](04_mnist_sgd.ipynb), the same update rule on a neural network, with mini-batches.
