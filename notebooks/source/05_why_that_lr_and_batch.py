# %% [markdown]
# # 5 为什么是这个学习率, 为什么是这个批量 · why that learning rate, why that batch size
#
# Beyond the tutorial. Its section 2.1.2 says a learning rate can be too large, and section 2.3
# that SGD is gradient descent with noise whose mean is the true gradient; section 4 then shows
# the loss for several batch sizes without saying which to choose. Both questions have answers
# you can measure, and this chapter measures them next to the theory:
#
# 1. on linear regression the largest stable learning rate is exactly 2/λ_max of the Hessian;
# 2. on the MLP the same number, the **sharpness** λ_max, comes from Hessian-vector products and
#    Lanczos (`sgdlab.theory.curvature`), and under full-batch gradient descent the sharpness
#    rises until it reaches 2/lr, then hovers there: the **edge of stability** (Cohen et al. 2021);
# 3. the **gradient noise scale** B_simple = tr(Σ)/|G|² (McCandlish et al. 2018) predicts the batch
#    size beyond which bigger batches stop saving steps, and a batch-size study confirms it;
# 4. the learning-rate **range test** (fastai's `lr_find`) drawn beside 2/λ_max.
#
# Every claim is checked by an `assert`; the whole chapter runs in about a minute on a laptop CPU.
#
# Chapters: [1 tensors](01_tensors.ipynb) · [2 gradient descent](02_gradient_descent.ipynb) ·
# [3 linear regression](03_linear_regression.ipynb) · [4 MNIST with SGD](04_mnist_sgd.ipynb) ·
# **5 why that learning rate, why that batch size**

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image, display

from sgdlab import LinRegConfig, MnistConfig, train
from sgdlab.linreg.data import tutorial_points
from sgdlab.linreg.model import objective as linreg_objective
from sgdlab.theory import curvature

torch.set_num_threads(1)  # small matrices: one thread is as fast and steadier on a shared machine
started = time.perf_counter()

# %% [markdown]
# ## 5.1 线性回归的界 · the bound on linear regression
#
# For J(w, b) = mean((w x + b − y)²) the Hessian is constant, H = (2/n) [x 1]ᵀ[x 1]. Gradient
# descent multiplies the error along each eigenvector by (1 − lr·λ) per step, so it converges
# if and only if lr < 2/λ_max. sgdlab's curvature code never sees this formula: it only asks the
# loss for Hessian-vector products. Both give the same number.

# %%
points = tutorial_points()
x = torch.tensor(points.x, dtype=torch.float64)
y = torch.tensor(points.y, dtype=torch.float64)
design = torch.cat([x, torch.ones_like(x)], dim=1)
hessian = 2 / len(x) * design.T @ design
lambda_max = float(torch.linalg.eigvalsh(hessian)[-1])
objective = linreg_objective(x, y, torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
from_hvps = curvature.top_eigenvalues(objective, 1).values[0]
print(f"lambda_max: closed form {lambda_max:.6f}, from Hessian-vector products {from_hvps:.6f}")
print(f"largest stable learning rate 2/lambda_max = {2 / lambda_max:.6f}")
assert abs(from_hvps - lambda_max) < 1e-9 * lambda_max

bound = 2 / lambda_max
below = train(LinRegConfig(lr=0.98 * bound, steps=400, dtype="float64", plots=False), record=False)
above = train(LinRegConfig(lr=1.02 * bound, steps=400, dtype="float64", plots=False), record=False)
print(f"lr = 0.98 x bound: {below['status']}, final loss {below['final']['loss']:.4f} "
      f"(optimum {below['optimum']['loss']:.4f})")
print(f"lr = 1.02 x bound: {above['status']} at step {above['divergence']['step']}")
assert below["status"] == "completed" and below["gap_to_optimum"] < 1e-2
assert above["status"] == "diverged"
assert below["lr_bound"] == bound or abs(below["lr_bound"] - bound) < 1e-9 * bound

# %% [markdown]
# ## 5.2 锐度 · the sharpness of the MLP
#
# A network's loss is not quadratic, but near any point it looks like one, with the Hessian at
# that point. Its top eigenvalue, the **sharpness**, is what limits the learning rate there.
# The MLP has 159,010 parameters: its Hessian has 25 billion entries and is never formed.
# Lanczos (SciPy's `eigsh`) needs only products H·v, each costing about two gradients
# (double backward), and about 20 of them. `sgdlab mnist` prints it beside every run (measured
# on the first 1,000 training images).

# %%
run = train(MnistConfig(limit_test=200, plots=False), record=False)
print(f"sharpness at initialisation: {run['sharpness_init']:.3f} "
      f"(on the first {run['sharpness_images']} training images, "
      f"{run['sharpness_cost']['hessian_vector_products']} Hessian-vector products)")
print(f"2/lambda_max = {run['lr_bound']:.4f}; the tutorial's lr 0.01 is {0.01 / run['lr_bound']:.2f} of it")
assert abs(run["lr_bound"] - 2 / run["sharpness_init"]) < 1e-12
assert 0.01 < run["lr_bound"]  # the tutorial's learning rate is safely below the bound

# %% [markdown]
# On a tiny network the whole Hessian fits in memory, so we can check Lanczos against
# `eigvalsh` of the full matrix (`torch.autograd.functional.hessian`), in float64.

# %%
from torch.func import functional_call

g = torch.Generator().manual_seed(0)
tiny = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
xs = torch.randn(40, 6, generator=g, dtype=torch.float64)
ys = torch.randint(0, 3, (40,), generator=g)
names = [k for k, _ in tiny.named_parameters()]
shapes = [p.shape for p in tiny.parameters()]
sizes = [p.numel() for p in tiny.parameters()]


def tiny_loss(flat):
    params = {k: t.view(s) for k, t, s in zip(names, torch.split(flat, sizes), shapes)}
    return torch.nn.functional.cross_entropy(functional_call(tiny, params, (xs,)), ys)


full = torch.autograd.functional.hessian(tiny_loss, torch.cat([p.detach().reshape(-1) for p in tiny.parameters()]))
exact = torch.linalg.eigvalsh(full).flip(0)[:3]
tiny_objective = curvature.Objective(
    list(tiny.parameters()),
    lambda params, _: torch.nn.functional.cross_entropy(functional_call(tiny, dict(zip(names, params)), (xs,)), ys))
lanczos = curvature.top_eigenvalues(tiny_objective, 3, tol=1e-12, dense_max=0)
print("top 3 eigenvalues, eigvalsh:", exact.numpy().round(8), " Lanczos:", np.round(lanczos.values, 8))
assert np.allclose(lanczos.values, exact.numpy(), rtol=1e-6)

# %% [markdown]
# ## 5.3 稳定性边缘 · the edge of stability
#
# Cohen et al.'s experiment, small: full-batch gradient descent on 1,000 mnist-5k images, a
# 784-100-100-10 tanh MLP with the squared loss 0.5‖f(x) − onehot(y)‖², pixels standardised,
# lr 0.3 (so 2/lr = 6.67), the sharpness measured every 10 steps on all 1,000 images. Classical
# optimisation theory would keep the sharpness below 2/lr. Watch it rise to 2/lr, then hover.
# The command line: `sgdlab sharpness` (the full 4,000 images, two learning rates, 3 minutes).

# %%
from sgdlab.mnist.sharpness import run_study

eos = run_study(MnistConfig(hidden=[100, 100], activation="tanh", loss="mse", normalize="standardize",
                            limit_train=1000), [0.3], steps=150, every=10)
r = eos["runs"][0]
print(r["verdict"])
print("sharpness:", [(p["step"], round(p["value"], 2)) for p in r["sharpness"]])
for path in eos["figures"]:
    display(Image(filename=path, width=520))

values = [p["value"] for p in r["sharpness"]]
assert values[0] < r["bound"]  # it starts below the edge ...
assert r["hit_step"] is not None and r["hit_step"] > 0  # ... sharpens until it reaches 2/lr ...
assert 0.8 < r["ratio_median"] < 1.25  # ... and then stays near it (median of sharpness * lr / 2)
after = r["losses"][r["hit_step"]:]
assert after[-1] < after[0] and any(b > a for a, b in zip(after, after[1:]))  # falls, not monotonically
assert r["verdict"].startswith("at the edge of stability")

# %% [markdown]
# ## 5.4 梯度噪声尺度 · the gradient noise scale
#
# A minibatch gradient G_B is the true gradient G plus noise with covariance Σ/B (Σ: the
# covariance of the per-example gradients). So E|G_B|² = |G|² + tr(Σ)/B, and the noise stops
# dominating at B_simple = tr(Σ)/|G|². sgdlab computes it exactly from every per-example gradient
# (`torch.func.vmap(grad)`), and by McCandlish et al.'s two-batch estimator, which needs only
# gradient norms at two batch sizes, as in data-parallel training. The tutorial's MLP, at
# initialisation and after an epoch of 1,000 images at lr 0.1:

# %%
from sgdlab.mnist import noise_scale

noise = noise_scale.run(MnistConfig(lr=0.1, limit_train=1000, plots=False), batch_sizes=[10, 30, 100, 300, 1000],
                        target=0.8, lrs=[0.03, 0.1, 0.3], max_steps=600, max_epochs=60)
for name in ("init", "trained"):
    m = noise[name]
    print(f"{name:>7}: B_simple exact {m['b_simple_exact']:.1f}, two-batch {m['b_simple_two_batch']:.1f}; "
          f"tr(Sigma) = {m['trace_sigma']:.2f}, |G|^2 = {m['grad_norm_sq']:.4f}")
    assert abs(m["b_simple_two_batch"] / m["b_simple_exact"] - 1) < 0.15  # the estimator agrees

# %% [markdown]
# ## 5.5 批量规模曲线 · the batch-size curve
#
# For each batch size B, the steps S to reach a training loss of 0.8 (its learning rate tuned over
# 0.03, 0.1, 0.3), run as one sweep. McCandlish et al. predict S = S_min (1 + B_noise/B): the
# examples E = B·S then follow E = E_min (1 + B/B_noise), and B_crit = E_min/S_min is where
# the trade-off turns. Below B_crit a bigger batch saves steps almost in proportion; above it,
# it mostly costs more examples. The theory says B_crit ≈ B_simple.

# %%
for row in noise["study"]:
    print(f"batch {row['batch_size']:>4}: {row['steps']:>4} steps, {row['examples']:>6} images, lr {row['lr']}")
fit = noise["fit"]
print(f"fit: S_min = {fit['s_min']:.1f} steps, E_min = {fit['e_min']:.0f} images, B_crit = {fit['b_crit']:.1f}; "
      f"B_simple {noise['init']['b_simple_exact']:.1f} at initialisation, "
      f"{noise['trained']['b_simple_exact']:.1f} after training")
for path in noise["figures"]:
    display(Image(filename=path, width=520))

steps = [row["steps"] for row in noise["study"]]
examples = [row["examples"] for row in noise["study"]]
assert all(s is not None for s in steps)
assert steps[0] > 2 * steps[-1]  # bigger batches need fewer steps ...
assert examples[-1] > 5 * examples[0]  # ... but many more examples
low, high = sorted([noise["trained"]["b_simple_exact"], noise["init"]["b_simple_exact"]])
assert low / 4 < fit["b_crit"] < 4 * high  # B_crit is of the order of B_simple

# %% [markdown]
# ## 5.6 学习率范围测试 · the learning-rate range test
#
# fastai's `lr_find` raises the learning rate from 1e-7 to 10 over 100 steps and watches the
# loss (smoothed with β = 0.98); it stops when the loss blows up. Its suggestion is a rule of
# thumb. Beside it, the theory's 2/λ_max at initialisation: on the tutorial's linear regression,
# where it is exact, the loss blows up only above it, but some way above: just past the bound the
# error grows by |1 − lr·λ| per step, barely more than 1, while the lr rises 20% per step.

# %%
from sgdlab.core.lr_range import schedule
from sgdlab.lrfind import run as lr_find

found = lr_find(LinRegConfig(plots=False), record=False)
print(f"2/lambda_max = {found['bound']:.4f}; loss back above its start at lr {found['blowup_lr']:.4f} "
      f"({found['blowup_over_bound']:.1f}x the bound); suggestion ({found['suggestion_rule']}): "
      f"{found['suggestion']:.4f}")
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(found["lrs"], found["losses"], color="0.7", label="batch loss")
ax.plot(found["lrs"], found["smoothed"], label="smoothed")
ax.axvline(found["bound"], color="tab:red", label="2/lambda_max")
ax.axvline(found["suggestion"], color="k", linestyle=":", label="suggestion (minimum/10)")
ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="loss", title="range test, linear regression")
ax.legend(fontsize=8)
plt.show()

assert found["lrs"] == schedule()[: len(found["lrs"])]
assert found["blowup_lr"] > found["bound"] and found["stop_lr"] > found["bound"]  # never below the bound
assert found["suggestion"] < found["bound"]  # the suggestion is a stable learning rate here
seconds = time.perf_counter() - started
print(f"this chapter ran in {seconds:.0f} s")

# %% [markdown]
# On the command line: `sgdlab lr-find linreg`, `sgdlab lr-find mnist`, `sgdlab sharpness`,
# `sgdlab noise-scale --batch-sizes 10,30,100,300,1000,4000`, and `sgdlab mnist` prints the
# sharpness and its bound beside every run.
