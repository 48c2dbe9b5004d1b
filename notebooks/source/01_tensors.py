# %% [markdown]
# # 1 pytorch的概念 · PyTorch concepts
#
# Chapter 1 of the tutorial, runnable and checked. Every claim the tutorial makes in section 1 is
# tested by an `assert` in a cell, so if PyTorch ever changes its behaviour this notebook stops
# with an error instead of silently teaching something false. The tutorial's retired idioms
# (`Variable`, `torch.cuda.FloatTensor`, `x.type(torch.DoubleTensor)`) are shown next to what to
# write today; the full migration table and errata list close the notebook.
#
# Chapters: **1 tensors** · [2 gradient descent](02_gradient_descent.ipynb) ·
# [3 linear regression](03_linear_regression.ipynb) · [4 MNIST with SGD](04_mnist_sgd.ipynb)

# %%
import numpy as np
import torch

print("torch", torch.__version__, "| numpy", np.__version__)
print("CUDA available:", torch.cuda.is_available())

# %% [markdown]
# ## 1.1 tensor张量 · Tensors
#
# ### 1.1.1 PyTorch的tensor与NumPy array相互转换 · converting between tensors and NumPy arrays
#
# Many PyTorch operations mirror NumPy's. The tutorial says tensors are "much faster than NumPy
# because they can run on the GPU" (能够在 GPU 上运行); that is true for large work on a GPU, not
# for small arrays on a CPU, where both call similar compiled loops.
#
# We use explicit random generators (one seed drives everything), so this notebook prints the same
# numbers every time.

# %%
rng = np.random.default_rng(0)
numpy_tensor = rng.standard_normal((10, 20))  # float64, NumPy's default
gen = torch.Generator().manual_seed(0)
x = torch.randn(10, 20, generator=gen)
print(numpy_tensor.dtype, x.dtype)

# %% [markdown]
# #### 1.1.1.1 ndarray==>tensor
#
# The tutorial lists two ways, `torch.Tensor(ndarray)` (强制类型转换, a cast) and
# `torch.from_numpy(ndarray)` (创建函数), and prints `type(...)` of both, which is
# `<class 'torch.Tensor'>` either way. That hides the two differences that matter:
#
# * `torch.from_numpy` **shares memory** with the array and keeps its dtype (float64 here);
# * `torch.Tensor(ndarray)` **copies** and **casts to the default dtype, float32**.

# %%
pytorch_tensor1 = torch.Tensor(numpy_tensor)  # legacy constructor: copy + cast
pytorch_tensor2 = torch.from_numpy(numpy_tensor)  # a view of the same memory
print(type(pytorch_tensor1), pytorch_tensor1.dtype)
print(type(pytorch_tensor2), pytorch_tensor2.dtype)

assert type(pytorch_tensor1) is torch.Tensor and type(pytorch_tensor2) is torch.Tensor
assert pytorch_tensor1.dtype == torch.float32  # cast from float64
assert pytorch_tensor2.dtype == torch.float64  # dtype kept

# mutate the array and observe: from_numpy sees the change, torch.Tensor(...) does not
before = numpy_tensor[0, 0]
numpy_tensor[0, 0] = 123.0
print("array[0,0] =", numpy_tensor[0, 0], "| from_numpy:", pytorch_tensor2[0, 0].item(),
      "| torch.Tensor:", pytorch_tensor1[0, 0].item())
assert pytorch_tensor2[0, 0].item() == 123.0
assert pytorch_tensor1[0, 0].item() == np.float32(before)
# ... and the other way round: an in-place change to the tensor shows in the array
pytorch_tensor2[0, 1] = -7.0
assert numpy_tensor[0, 1] == -7.0
assert np.shares_memory(numpy_tensor, pytorch_tensor2.numpy())
numpy_tensor[0, 0] = before

# %% [markdown]
# Today's spelling: `torch.tensor(a)` copies (and keeps float64; pass `dtype=torch.float32` to
# cast), `torch.as_tensor(a)` / `torch.from_numpy(a)` share when they can. `torch.Tensor(...)` is
# the legacy constructor; avoid it.

# %%
copied = torch.tensor(numpy_tensor, dtype=torch.float32)
shared = torch.as_tensor(numpy_tensor)
assert copied.dtype == torch.float32 and not np.shares_memory(numpy_tensor, copied.numpy())
assert shared.dtype == torch.float64 and np.shares_memory(numpy_tensor, shared.numpy())

# %% [markdown]
# #### 1.1.1.2 tensor==>ndarray
#
# `.numpy()` works for a CPU tensor (and shares its memory); a GPU tensor must come to the CPU
# first with `.cpu()`. One thing the tutorial does not mention: a tensor that records gradients
# (`requires_grad=True`) must be `.detach()`ed first.

# %%
numpy_array = pytorch_tensor1.numpy()
assert numpy_array.dtype == np.float32 and np.shares_memory(numpy_array, pytorch_tensor1.numpy())
numpy_array = pytorch_tensor1.cpu().numpy()  # .cpu() is a no-op for a tensor already on the CPU

needs_grad = torch.ones(2, requires_grad=True)
try:
    needs_grad.numpy()
except RuntimeError as exc:
    print("RuntimeError:", str(exc).splitlines()[0])
else:
    raise AssertionError("expected .numpy() on a requires_grad tensor to fail")
print(needs_grad.detach().cpu().numpy())

# %% [markdown]
# ### 1.1.2 PyTorch Tensor 使用 GPU 加速 · using the GPU
#
# The tutorial's first way, `torch.randn(10, 20).type(torch.cuda.FloatTensor)`, uses the legacy
# tensor-type classes. Its second, `.cuda()`, still works but hard-codes CUDA. Today: pick a
# `device` once and create tensors there, or move them with `.to(device)`. The cell below runs on
# CUDA when it is present, and says so clearly when it is not.

# %%
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if device.type == "cuda":
    gpu_tensor = torch.randn(10, 20, device=device)  # created on the GPU directly
    moved = torch.randn(10, 20).to(device)  # or moved there
    legacy = torch.randn(10, 20).cuda()  # the tutorial's second way, still valid
    assert gpu_tensor.is_cuda and moved.is_cuda and legacy.is_cuda
    assert legacy.type() == "torch.cuda.FloatTensor"  # what the tutorial's dtype meant
    back = gpu_tensor.cpu().numpy()  # 1.1.1.2: GPU -> CPU -> NumPy
    assert back.shape == (10, 20)
    print("ran on", torch.cuda.get_device_name(0))
else:
    print("NOTE: no CUDA device here, so the GPU cells run on the CPU instead. "
          "On a machine with a GPU, the same code puts the tensors on it.")
    gpu_tensor = torch.randn(10, 20, device=device)
    assert gpu_tensor.device.type == "cpu"

# %% [markdown]
# ### 1.1.3 tensor的属性 · tensor attributes
#
# Size two ways (`.shape` and `.size()`, the same `torch.Size`), the type string, the number of
# dimensions (维度) and the number of elements.

# %%
print(pytorch_tensor1.shape)
print(pytorch_tensor1.size())
print(pytorch_tensor1.type())  # a string naming the legacy type; prefer .dtype
print(pytorch_tensor1.dtype)
print(pytorch_tensor1.dim())
print(pytorch_tensor1.numel())

assert pytorch_tensor1.shape == pytorch_tensor1.size() == torch.Size([10, 20])
assert pytorch_tensor1.type() == "torch.FloatTensor" and pytorch_tensor1.dtype == torch.float32
assert pytorch_tensor1.dim() == pytorch_tensor1.ndim == 2
assert pytorch_tensor1.numel() == 10 * 20

# %% [markdown]
# ### 1.1.4 tensor的数据类型变换 · changing the data type
#
# The tutorial writes `x = x.type(torch.DoubleTensor)`. Today: `x.to(torch.float64)` or
# `x.double()`, which also keep the tensor on its device (the `DoubleTensor` class is a CPU type).
# A float64 tensor becomes a float64 NumPy array.

# %%
x = torch.randn(3, 2, generator=gen)
print(x)
x_legacy = x.type(torch.DoubleTensor)  # the tutorial's spelling, still accepted
x = x.to(torch.float64)  # today's
print(x)
x_array = x.numpy()
print(x_array.dtype)
assert x.dtype == x_legacy.dtype == torch.float64 and torch.equal(x, x_legacy)
assert x_array.dtype == np.float64
assert x.double().dtype == torch.float64 and x.float().dtype == torch.float32

# %% [markdown]
# ## 1.2 tensor的操作 · tensor operations
#
# ### 1.2.1 squeeze和unsqueeze操作: 降维升维 · removing and adding dimensions
#
# (Erratum: the tutorial's cell contains a stray statement `torch.Size([1, 2, 2])` between two
# prints. It builds a size and throws it away; it was meant to be a comment like the line
# `#torch.Size([2, 2])` above it. It is written as a comment here.)

# %%
print(torch.ones(2, 2))
print(torch.ones(2, 2).size())  # torch.Size([2, 2])
x = torch.ones(2, 2).unsqueeze(0)  # torch.Size([1, 2, 2])
print(x)
print(x.size())
assert x.shape == (1, 2, 2)

# squeeze() removes every dimension of size 1
x = x.squeeze()
print(x)
print(x.shape)
assert x.shape == (2, 2)
assert torch.ones(1, 3, 1, 4).squeeze().shape == (3, 4)
assert torch.ones(1, 3, 1, 4).squeeze(0).shape == (3, 1, 4)  # or only the one you name
assert torch.ones(3).unsqueeze(-1).shape == (3, 1)

# %% [markdown]
# ### 1.2.2 数值类型转换 · numeric type conversion
#
# `x.long()` converts to 64-bit integers (truncating toward zero), like the commented
# `x.type(torch.LongTensor)`; today also `x.to(torch.int64)`.

# %%
x = x.long()
print(x.type(), x.dtype)
assert x.dtype == torch.int64 and x.type() == "torch.LongTensor"
assert torch.tensor([1.7, -1.7]).long().tolist() == [1, -1]

# %% [markdown]
# ### 1.2.3 使用permute和transpose进行维度交换 · reordering dimensions
#
# `permute` reorders all dimensions at once; `transpose` swaps two. Neither copies data: both
# return a view with different strides, which matters in the next section.

# %%
x = torch.randn(3, 4, 5, generator=gen)
print(x.shape)
y = x.permute(1, 0, 2)  # permute 可以重新排列 tensor 的维度
print(y.shape)
assert y.shape == (4, 3, 5) and torch.equal(y[2, 1], x[1, 2])
z = y.transpose(0, 2)  # transpose 交换 tensor 中的两个维度
print(z.shape)
assert z.shape == (5, 3, 4) and torch.equal(z[:, 1, 2], x[1, 2])
assert y.data_ptr() == x.data_ptr() and z.data_ptr() == x.data_ptr()  # views, no copies
assert not y.is_contiguous() and not z.is_contiguous()

# %% [markdown]
# ### 1.2.4 使用 view 对 tensor 进行 reshape · reshaping with view
#
# `view` gives the same memory a new shape; `-1` means "whatever size makes the count work". It
# only works when the new shape is compatible with the tensor's memory layout (strides). A
# freshly created tensor is contiguous, so the tutorial's example works; after `transpose` or
# `permute` it usually is not, and `view` raises. Then call `.contiguous()` first (a copy), or use
# `.reshape`, which views when it can and copies when it must.

# %%
x = torch.randn(3, 4, 5, generator=gen)
print(x.shape)
x = x.view(-1, 5)  # -1 表示任意的大小，5 表示第二维变成 5
print(x.shape)
assert x.shape == (12, 5)
x = x.view(3, 20)
print(x.shape)
assert x.shape == (3, 20)

t = torch.arange(6).view(2, 3).transpose(0, 1)  # shape (3, 2), not contiguous
try:
    t.view(6)
except RuntimeError as exc:
    print("view after transpose -> RuntimeError:", str(exc).split(".")[0])
else:
    raise AssertionError("expected view() of a transposed tensor to fail")
assert t.contiguous().view(6).tolist() == [0, 3, 1, 4, 2, 5]
assert t.reshape(6).tolist() == [0, 3, 1, 4, 2, 5]
assert t.reshape(6).data_ptr() != t.data_ptr()  # reshape had to copy here

# %% [markdown]
# ### 1.2.5 tensor的运算:相加 · addition
#
# `x + y` and `torch.add(x, y)` are the same operation; tensors of compatible shapes broadcast.

# %%
x = torch.zeros(3, 4)
y = torch.ones(3, 4)
z = x + y
print(z)
z2 = torch.add(x, y)
print(z2)
assert torch.equal(z, z2) and torch.equal(z, torch.ones(3, 4))
assert torch.equal(x + torch.arange(4.0), torch.arange(4.0).expand(3, 4))  # broadcasting

# %% [markdown]
# ### 1.2.6 tensor的inplace操作 · in-place operations
#
# Most operations have an in-place form whose name ends in `_` (在操作的符号后面加_): it writes
# into the tensor's own memory instead of allocating a new one.

# %%
x = torch.ones(3, 3)
ptr = x.data_ptr()
x.add_(1)  # in place
x.mul_(3)
x.unsqueeze_(0)  # shape changes in place too
print(x.shape, x[0, 0, 0].item())
assert x.data_ptr() == ptr and torch.equal(x, torch.full((1, 3, 3), 6.0))
y = x.add(1)  # without _: a new tensor, x unchanged
assert y.data_ptr() != ptr and x[0, 0, 0].item() == 6.0
x += 1  # augmented assignment is in place for tensors
assert x.data_ptr() == ptr and x[0, 0, 0].item() == 7.0

# %% [markdown]
# ## 1.3 变量 · Variables (retired: every tensor is one now)
#
# The tutorial wraps tensors in `torch.autograd.Variable` so that they get three attributes:
# `.data`, the gradient `.grad` and `.grad_fn` (how the value was computed). Since PyTorch 0.4
# (2018) `Variable` and `Tensor` are one class: `Variable(t)` still runs but simply returns a
# tensor, and every tensor has `.grad`, `.grad_fn` and `requires_grad`. Write
# `torch.randn(10, 5, requires_grad=True)` or `t.requires_grad_()`.

# %%
from torch.autograd import Variable  # only to show that it is a no-op today

x_tensor = torch.randn(10, 5, generator=gen)
legacy = Variable(x_tensor, requires_grad=True)
assert type(legacy) is torch.Tensor and legacy.requires_grad  # just a tensor

x = x_tensor.clone().requires_grad_()  # today's spelling
print(x.requires_grad, x.grad, x.grad_fn)
assert not x_tensor.requires_grad  # by default tensors do not record gradients
assert x.grad is None and x.grad_fn is None  # a leaf: made by us, no gradient yet

# %% [markdown]
# ### 1.3.1 变量的梯度 · gradients
#
# An operation on a tensor that requires gradients records how it was made in `.grad_fn`;
# `backward()` then fills `.grad` of the leaves. For `s = sum(x * x)`, `ds/dx = 2x`.

# %%
y_tensor = torch.randn(10, 5, generator=gen)
y = x * y_tensor
s = (x * x).sum()
print(y.grad_fn, s.grad_fn)
assert y.requires_grad and y.grad_fn is not None and type(s.grad_fn).__name__ == "SumBackward0"
s.backward()
print(x.grad[:2])
assert torch.allclose(x.grad, 2 * x.detach())
# gradients accumulate: a second backward adds to .grad, which is why training loops zero it
(x * x).sum().backward()
assert torch.allclose(x.grad, 4 * x.detach())
x.grad = None  # what optimizer.zero_grad() does by default since PyTorch 2.0
# .data is the raw value without autograd tracking; prefer .detach() (or torch.no_grad() to update)
assert torch.equal(x.data, x.detach()) and not x.detach().requires_grad

# %% [markdown]
# ## 附录 Appendix · 迁移 Migration and 勘误 errata
#
# The same table and list as [notebooks/README.md](README.md).
#
# <!-- include: README.md#migration -->
#
# <!-- include: README.md#errata -->
