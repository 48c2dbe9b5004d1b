# %% [markdown]
# # 2 梯度下降法 Gradient Descent (GD) 介绍 · gradient descent
#
# Chapter 2 of the tutorial is all prose and formulas; here each idea gets a small computation
# and a figure, in plain PyTorch and matplotlib: the gradient (梯度), the learning rate (学习率)
# too small, good and too large, the update rule (更新梯度公式), the two saddle points (鞍点) the
# tutorial names, and SGD as "drunk GD" whose expected step is the true gradient. Two cells then
# run the same lessons through sgdlab's surface module, which adds the theory (Hessian, stable
# learning rate, escape step) and a verdict for each path.
#
# Chapters: [1 tensors](01_tensors.ipynb) · **2 gradient descent** ·
# [3 linear regression](03_linear_regression.ipynb) · [4 MNIST with SGD](04_mnist_sgd.ipynb)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

torch.set_default_dtype(torch.float64)  # small 2-D problems: exact arithmetic is cheap


def grid(f, lim=(-2, 2), n=201):
    """f evaluated on an n x n grid, for contour plots."""
    a = torch.linspace(*lim, n)
    xx, yy = torch.meshgrid(a, a, indexing="xy")
    return xx.numpy(), yy.numpy(), f(torch.stack([xx, yy])).numpy()


# %% [markdown]
# ## 2.1 梯度下降法简介 · what gradient descent is
#
# ### 2.1.1 梯度 · the gradient
#
# For a function $f(x, y)$ the gradient is $\nabla f = (\frac{\partial f}{\partial x},
# \frac{\partial f}{\partial y})$. Take the bowl $f(x, y) = x^2 + 2y^2$: by hand
# $\nabla f = (2x, 4y)$. Autograd gives the same, and a finite difference agrees.

# %%
def bowl(p):
    return p[0] ** 2 + 2 * p[1] ** 2


p0 = torch.tensor([1.5, -1.0], requires_grad=True)
bowl(p0).backward()
by_hand = torch.tensor([2 * 1.5, 4 * -1.0])
h = 1e-6
finite = torch.tensor([
    (bowl(p0.detach() + h * e) - bowl(p0.detach() - h * e)) / (2 * h) for e in torch.eye(2)
])
print("autograd:", p0.grad.tolist(), "| by hand:", by_hand.tolist(), "| finite difference:",
      [round(v, 6) for v in finite.tolist()])
assert torch.allclose(p0.grad, by_hand) and torch.allclose(finite, by_hand, atol=1e-6)

# %% [markdown]
# The gradient points uphill, across the contour lines; gradient descent walks the other way
# (沿着梯度的反方向).

# %%
xx, yy, zz = grid(bowl)
pts = torch.tensor([[x, y] for x in (-1.5, -0.5, 0.5, 1.5) for y in (-1.5, -0.5, 0.5, 1.5)])
g = torch.stack([2 * pts[:, 0], 4 * pts[:, 1]], 1)
fig, ax = plt.subplots(figsize=(5, 4.5))
ax.contour(xx, yy, zz, levels=15, cmap="viridis")
ax.quiver(pts[:, 0], pts[:, 1], -g[:, 0], -g[:, 1], color="crimson", angles="xy")
ax.set(title="$f = x^2 + 2y^2$ and $-\\nabla f$ (downhill)", xlabel="x", ylabel="y", aspect="equal")
plt.show()

# %% [markdown]
# ### 2.1.2 学习率 · the learning rate η
#
# Each step moves $\eta \nabla f$. On this bowl the steepest direction has curvature 4, so
# gradient descent converges only when $\eta < 2/4 = 0.5$: too small (太小) crawls, a good one
# converges in a few steps, one close to the limit bounces (跳动非常明显) from wall to wall, and one
# past it diverges.

# %%
def descend(f, start, lr, steps):
    """Gradient descent with autograd; returns the path, one row per position."""
    w = torch.tensor(start, requires_grad=True)
    path = [w.detach().clone()]
    for _ in range(steps):
        w.grad = None
        f(w).backward()
        with torch.no_grad():
            w -= lr * w.grad  # w_{i+1} = w_i - eta * df/dw
        path.append(w.detach().clone())
    return torch.stack(path)


start, steps = [-1.8, 1.2], 25
rates = {"too small, 0.02": 0.02, "good, 0.2": 0.2, "too large, 0.48": 0.48, "diverges, 0.52": 0.52}
paths = {name: descend(bowl, start, lr, steps) for name, lr in rates.items()}
losses = {name: bowl(path.T) for name, path in paths.items()}
for name, loss in losses.items():
    print(f"lr {name:16s} loss after {steps} steps: {loss[-1].item():.3e}")

assert losses["too small, 0.02"][-1] > 0.4  # still far from the minimum (0)
assert losses["good, 0.2"][-1] < 1e-8
y_big = paths["too large, 0.48"][:, 1]
assert (y_big[1:] * y_big[:-1] < 0).all()  # y flips sign every step: the bounce
assert losses["too large, 0.48"][-1] < losses["too large, 0.48"][0]  # ... but it still converges
assert losses["diverges, 0.52"][-1] > losses["diverges, 0.52"][0]  # past 0.5 it grows

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
ax1.contour(xx, yy, zz, levels=15, cmap="Greys", alpha=0.6)
for name, path in paths.items():
    ax1.plot(path[:, 0], path[:, 1], ".-", label=f"lr {name}")
    ax2.semilogy(losses[name], label=f"lr {name}")
ax1.set(xlim=(-2, 2), ylim=(-2, 2), aspect="equal", title="paths from (-1.8, 1.2)", xlabel="x", ylabel="y")
ax2.set(title="loss per step (log scale)", xlabel="step", ylabel="f")
ax2.legend()
plt.show()

# %% [markdown]
# ### 2.1.3 更新梯度公式 · the update rule
#
# $$w_{i+1} = w_i - \eta \frac{\partial f(w)}{\partial w}$$
#
# `descend` above is exactly this line. PyTorch's own `torch.optim.SGD` (no momentum) does the
# same arithmetic, so with PyTorch as the oracle both paths agree to within float64 rounding (its
# kernel computes `w + (-lr) * grad` in a fused form, so the last bit can differ).

# %%
w = torch.tensor(start, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.2)
oracle = [w.detach().clone()]
for _ in range(steps):
    opt.zero_grad()
    bowl(w).backward()
    opt.step()
    oracle.append(w.detach().clone())
difference = (torch.stack(oracle) - paths["good, 0.2"]).abs().max().item()
print(f"hand-written update vs torch.optim.SGD, {steps} steps: largest difference {difference:.1e}")
assert difference < 1e-14

# %% [markdown]
# **The same with sgdlab.** `sgdlab.train(SurfaceConfig(...))` (on the command line
# `sgdlab surface bowl --lr 0.02,0.2,0.48,0.52`) runs one trajectory per learning rate and puts
# theory next to practice: the Hessian at the start by autograd, the stable bound
# $2/\lambda_{max}$ (exact here, because f is quadratic), and a verdict for each path
# (`converged`, `slow`, `oscillating`, `diverged`, defined in `sgdlab.surface.run`). Its `bowl` is
# $\frac{a}{2}x^2 + \frac{b}{2}y^2$, so curvatures $(2, 4)$ give this chapter's $x^2 + 2y^2$. It
# writes a contour plot and f against step, and records the run in the store (`$SGDLAB_STORE`,
# default `./sgdlab-runs/runs.db`).

# %%
from IPython.display import Image, display
from sgdlab import SurfaceConfig, train

lr_study = train(SurfaceConfig(name="bowl", curvature=(2.0, 4.0), start=tuple(start),
                               lrs=list(rates.values()), steps=100))
print("Hessian eigenvalues at the start:", lr_study["hessian_start"]["eigenvalues"],
      f"| stable for lr < 2/lambda_max = {lr_study['lr_bound']:g}: {lr_study['lr_bound_kind']}")
for r in lr_study["runs"]:
    print(f"lr {r['lr']:<5g} {r['verdict']:12s} {r['reason']}")
assert lr_study["lr_bound"] == 0.5
assert [r["verdict"] for r in lr_study["runs"]] == ["slow", "converged", "oscillating", "diverged"]
# its first 25 steps at lr 0.2 are the path `descend` drew above
good = torch.tensor(lr_study["runs"][1]["path"][: steps + 1])
assert torch.allclose(good, paths["good, 0.2"], rtol=0, atol=1e-14)
for path in lr_study["figures"]:
    display(Image(filename=path, width=430))

# %% [markdown]
# ## 2.2 梯度下降的缺点 · where gradient descent struggles: saddle points (鞍点)
#
# A saddle is a stationary point (驻点, gradient 0) that is not a local minimum: along one
# direction it is a maximum, along another a minimum. The tutorial's example is
# $z = x^2 - y^2$ (its picture did not survive, so we draw it). The gradient $(2x, -2y)$ is zero
# at the origin, and the Hessian has eigenvalues $2$ and $-2$: curving up along x, down along y.

# %%
def saddle(p):
    return p[0] ** 2 - p[1] ** 2


origin = torch.zeros(2, requires_grad=True)
saddle(origin).backward()
hessian = torch.autograd.functional.hessian(saddle, torch.zeros(2))
print("gradient at (0,0):", origin.grad.tolist(), "| Hessian eigenvalues:",
      torch.linalg.eigvalsh(hessian).tolist())
assert torch.equal(origin.grad, torch.zeros(2))
assert torch.equal(torch.linalg.eigvalsh(hessian), torch.tensor([-2.0, 2.0]))

sx, sy, sz = grid(saddle, n=41)
fig = plt.figure(figsize=(10, 4))
ax = fig.add_subplot(1, 2, 1, projection="3d")
ax.plot_surface(sx, sy, sz, cmap="coolwarm", alpha=0.9)
ax.set(title="$z = x^2 - y^2$", xlabel="x", ylabel="y")
ax2 = fig.add_subplot(1, 2, 2)
ax2.contour(sx, sy, sz, levels=21, cmap="coolwarm")
ax2.plot([0], [0], "k*", ms=12)
ax2.set(title="contours: the saddle at (0, 0)", xlabel="x", ylabel="y", aspect="equal")
plt.show()

# %% [markdown]
# Gradient descent started exactly on the x axis never sees the downhill direction (its y
# gradient is 0) and converges to the saddle. Started a hair off the axis, it lingers near the
# saddle, because the gradient there is tiny, then escapes: the y offset grows by a factor
# $1 + 2\eta$ each step.

# %%
on_axis = descend(saddle, [1.0, 0.0], lr=0.1, steps=100)
off_axis = descend(saddle, [1.0, 1e-6], lr=0.1, steps=100)
print("on the axis, after 100 steps:", on_axis[-1].tolist())
print("1e-6 off it:                 ", off_axis[-1].tolist())
assert on_axis[-1].norm() < 1e-5  # stuck at the saddle, gradient ~ 0, not a minimum
assert abs(off_axis[:60, 1]).max() < 0.06  # 60 steps near the saddle ...
assert abs(off_axis[-1, 1]) > 80  # ... then escaped: 1e-6 * 1.2**100 ~ 83
assert torch.allclose(off_axis[-1, 1], torch.tensor(1e-6 * 1.2 ** 100))

# %% [markdown]
# The tutorial's second example, $z = x^4 - y^3$, is a harder saddle: the gradient
# $(4x^3, -3y^2)$ is zero at the origin **and so is the Hessian**, so the second-derivative test
# says nothing. It is a saddle all the same: along the y axis $z = -y^3$ is positive below 0 and
# negative above it, so (0, 0) is neither a minimum nor a maximum. Gradient descent from
# $(1, 0)$ slows to a crawl ($x^4$ is very flat) and heads for the saddle; from $(1, 0.05)$ it
# creeps for a hundred steps and then falls off the edge ($z \to -\infty$ as $y \to \infty$); from $(1, -0.05)$
# it climbs back toward the saddle, because $-y^3$ decreases as y rises to 0.

# %%
def flat_saddle(p):
    return p[0] ** 4 - p[1] ** 3


h0 = torch.autograd.functional.hessian(flat_saddle, torch.zeros(2))
assert torch.equal(h0, torch.zeros(2, 2))
ys = torch.tensor([-0.1, 0.1])
print("z on the y axis at y = -0.1, 0.1:", flat_saddle(torch.stack([torch.zeros(2), ys])).tolist())
assert flat_saddle(torch.tensor([0.0, -0.1])) > 0 > flat_saddle(torch.tensor([0.0, 0.1]))

runs = {f"start (1, {y0})": descend(flat_saddle, [1.0, y0], lr=0.05, steps=135)
        for y0 in (0.0, 0.05, -0.05)}
for name, path in runs.items():
    print(f"{name:15s} -> ({path[-1, 0].item():.4f}, {path[-1, 1].item():.4g})")
assert runs["start (1, 0.0)"][-1, 1] == 0 and runs["start (1, 0.0)"][-1, 0] < 0.2
assert runs["start (1, 0.05)"][-1, 1] > 1  # escaped downhill
assert -0.05 < runs["start (1, -0.05)"][-1, 1] < 0  # drawn back toward the saddle

fx, fy, fz = grid(flat_saddle, lim=(-1.5, 1.5))
fig, ax = plt.subplots(figsize=(5.5, 4.5))
ax.contour(fx, fy, fz, levels=np.linspace(-3, 3, 25), cmap="coolwarm")
for name, path in runs.items():
    inside = path[(path.abs() <= 1.5).all(1)]
    ax.plot(inside[:, 0], inside[:, 1], ".-", ms=3, label=name)
ax.plot([0], [0], "k*", ms=12)
ax.set(title="$z = x^4 - y^3$: 135 steps, lr 0.05", xlabel="x", ylabel="y", aspect="equal")
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# **The same with sgdlab.** For its built-in saddles `sgdlab surface` classifies the critical point
# at the origin from the Hessian there (indefinite for $x^2 - y^2$, zero, so degenerate, for
# $x^4 - y^3$) and, for a start within the escape radius (1 by default) of it, reports the
# **escape step**: the first step farther than the radius from the saddle. For $x^2 - y^2$ from
# $(0.5, 10^{-6})$ with $\eta = 0.1$ the y offset grows by $1.2$ per step, so it passes 1 at step
# $\lceil \ln 10^6 / \ln 1.2 \rceil = 76$. On the command line: `sgdlab surface saddle --start 0.5,1e-6
# --steps 100`.

# %%
import math

saddle_runs = {
    "x^2 - y^2 from (0.5, 1e-6)": SurfaceConfig(name="saddle", start=(0.5, 1e-6), steps=100),
    "x^4 - y^3 from (0.5, 0.05)": SurfaceConfig(name="x4-y3", start=(0.5, 0.05)),
    "x^4 - y^3 from (0.5, -0.05)": SurfaceConfig(name="x4-y3", start=(0.5, -0.05)),
}
results = {label: train(config) for label, config in saddle_runs.items()}
for label, res in results.items():
    r = res["runs"][0]
    print(f"{label}: the origin is a {res['critical_point']['kind']}; {r['steps']} steps, lr "
          f"{r['lr']:g}: {r['verdict']} ({r['reason']})")
verdicts = [res["runs"][0]["verdict"] for res in results.values()]
assert verdicts == ["escaped saddle", "escaped saddle", "stuck near saddle"]
assert results["x^2 - y^2 from (0.5, 1e-6)"]["runs"][0]["escape_step"] == math.ceil(math.log(1e6) / math.log(1.2))
assert results["x^2 - y^2 from (0.5, 1e-6)"]["critical_point"]["kind"].startswith("saddle")
assert results["x^4 - y^3 from (0.5, 0.05)"]["critical_point"]["kind"].startswith("degenerate")
for res in results.values():
    display(Image(filename=res["figures"][0], width=380))  # the contour plot with the path

# %% [markdown]
# ## 2.3 Stochastic Gradient Descent (SGD) 算法
#
# ### 2.3.1 SGD的理解 · SGD as drunk gradient descent
#
# SGD (随机梯度下降) replaces the gradient of the whole loss by the gradient on one randomly
# chosen example: "GD that has had a drink" (喝醉了酒的GD), which knows the way home roughly and
# gets there staggering. We use the 15 points of chapter 3 and the loss
# $f(w, b) = \frac{1}{n}\sum_i (w x_i + b - y_i)^2$.
#
# ### 2.3.2 SGD的公式 · the SGD update
#
# $$w_{i+1} = w_i - \eta J, \qquad E[J] = \frac{\partial f(w)}{\partial w}$$
#
# Here $J$ is the gradient of the loss on example $k$, with $k$ drawn uniformly from
# $1 \dots n$. Its expectation is the average of the $n$ per-example gradients, which is exactly
# the full gradient. We check that exactly, then by sampling 20,000 draws (the sample mean must
# lie within 4 standard errors of the gradient).

# %%
x = torch.tensor([3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791,
                  5.313, 7.997, 3.1])
y = torch.tensor([1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465,
                  1.65, 2.904, 1.3])
n = len(x)


def loss(wb, index=slice(None)):
    return ((wb[0] * x[index] + wb[1] - y[index]) ** 2).mean()


wb = torch.tensor([-0.1187, 0.0], requires_grad=True)
full_grad = torch.autograd.grad(loss(wb), wb)[0]
per_example = torch.stack([torch.autograd.grad(loss(wb, [k]), wb)[0] for k in range(n)])  # J for each k
print("full gradient:         ", full_grad.tolist())
print("mean of the n values J:", per_example.mean(0).tolist())
assert torch.allclose(per_example.mean(0), full_grad, rtol=1e-12)  # E[J] = grad f, exactly

gen = torch.Generator().manual_seed(2019)
draws = torch.randint(n, (20_000,), generator=gen)
sampled = per_example[draws]  # J for 20,000 random draws
mean, stderr = sampled.mean(0), sampled.std(0) / len(draws) ** 0.5
print("mean of 20,000 sampled J:", mean.tolist(), "+/-", stderr.tolist())
assert ((mean - full_grad).abs() < 4 * stderr).all()
print("spread of a single J (std):", per_example.std(0).tolist())
assert (per_example.std(0) > full_grad.abs() / 4).all()  # ... while a single J is noisy

# %% [markdown]
# Both from the tutorial's initial point $(w, b) = (-0.1187, 0)$, 300 steps with $\eta = 0.005$:
# GD goes straight down the valley; SGD staggers around it and, with a constant step, keeps
# wandering near the bottom instead of settling.

# %%
def sgd_path(start, lr, steps, generator):
    wb = torch.tensor(start, requires_grad=True)
    path = [wb.detach().clone()]
    for k in torch.randint(n, (steps,), generator=generator).tolist():
        wb.grad = None
        loss(wb, [k]).backward()  # J: the gradient on one random example
        with torch.no_grad():
            wb -= lr * wb.grad
        path.append(wb.detach().clone())
    return torch.stack(path)


lr, steps = 0.005, 300
gd = descend(loss, [-0.1187, 0.0], lr, steps)
sgd = sgd_path([-0.1187, 0.0], lr, steps, torch.Generator().manual_seed(2019))
gd_loss, sgd_loss = [torch.stack([loss(p) for p in path]) for path in (gd, sgd)]
print(f"after {steps} steps: GD loss {gd_loss[-1].item():.4f}, SGD loss {sgd_loss[-1].item():.4f}")
assert gd_loss[-1] < gd_loss[0] / 20 and sgd_loss[-1] < sgd_loss[0] / 10
assert (gd_loss[1:] <= gd_loss[:-1]).all()  # GD never goes up at this step size
assert (sgd_loss[1:] > sgd_loss[:-1]).any()  # SGD sometimes does: it is "drunk"

lx, ly, lz = grid(lambda p: ((p[0][..., None] * x + p[1][..., None] - y) ** 2).mean(-1),
                  lim=(-0.3, 0.7), n=121)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
ax1.contour(lx, ly, lz, levels=np.geomspace(0.2, 20, 20), cmap="Greys")
ax1.plot(gd[:, 0], gd[:, 1], "b.-", ms=3, label="GD")
ax1.plot(sgd[:, 0], sgd[:, 1], "r.-", ms=3, lw=0.7, label="SGD (batch 1)")
ax1.set(xlim=(-0.3, 0.7), ylim=(-0.3, 0.7), xlabel="w", ylabel="b", title="paths in (w, b)")
ax1.legend()
ax2.semilogy(gd_loss, "b", label="GD")
ax2.semilogy(sgd_loss, "r", lw=0.8, label="SGD (batch 1)")
ax2.set(xlabel="step", ylabel="full loss f(w, b)", title=f"loss, lr {lr}")
ax2.legend()
plt.show()

# %% [markdown]
# Next: [chapter 3](03_linear_regression.ipynb) trains this linear regression exactly as the
# tutorial does.
