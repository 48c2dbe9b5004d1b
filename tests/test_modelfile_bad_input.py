"""A model file that is wrong, as a table: every row gives one `error:` line naming what and
where, exit code 2, no traceback, and nothing recorded (no store, no figures folder).

Each row: (name, the file's text or None for no file, a piece of the expected first line).
The text is appended to HEADER unless it defines its own imports.
"""

from __future__ import annotations

import textwrap

import pytest

HEADER = "import torch\nfrom torch import nn\n"
GOOD_DATA = """
def data():
    x = torch.linspace(-1, 1, 40).reshape(20, 2)
    return {"train": (x, x.sum(1, keepdim=True)), "test": (x[:5], x[:5].sum(1, keepdim=True))}
"""
GOOD_MODEL = "\ndef model():\n    return nn.Linear(2, 1)\n"
GOOD_LOSS = "\ndef loss(out, t):\n    return ((out - t) ** 2).mean()\n"


NUMPY = """
def data():
    x = np.linspace(-1, 1, 40).reshape(20, 2)
    return {{"train": ({}, x.sum(1, keepdims=True))}}
"""


def good(**replace: str) -> str:
    parts = {"data": GOOD_DATA, "model": GOOD_MODEL, "loss": GOOD_LOSS} | replace
    return HEADER + "".join(textwrap.dedent(v) for v in parts.values())


CASES = [
    ("missing file", None, "{tmp}/m.py: the model file does not exist"),
    ("not .py", "x = 1", "{tmp}/m.txt: a model file is a Python file ending in .py"),
    ("syntax error", HEADER + "def data(:\n    pass\n", "{tmp}/m.py, line 3: syntax error"),
    ("import raises", HEADER + "\n\nraise ValueError('no data here\\nsecond line')\n",
     "{tmp}/m.py, line 5: importing it raised ValueError: no data here"),
    ("import of a missing module", "import not_a_module_sgdlab\n",
     "importing it raised ModuleNotFoundError: No module named 'not_a_module_sgdlab'"),
    ("no model", good(model=""), "{tmp}/m.py: defines no model()"),
    ("no data", good(data=""), "{tmp}/m.py: defines no data()"),
    ("no loss", good(loss=""), "{tmp}/m.py: defines no loss()"),
    ("data raises", good(data="\ndef data():\n    return 1 / 0\n"),
     "{tmp}/m.py, line 5: data() raised ZeroDivisionError: division by zero"),
    ("data not a dict", good(data="\ndef data():\n    return [1, 2]\n"),
     "data() must return {\"train\": (x, y), \"test\": (x, y)}, got list"),
    ("data not tensors", good(data="\ndef data():\n    return {'train': ([1.0, 2.0], [1.0, 2.0])}\n"),
     "data()['train']: x is list, not a tensor; y is list, not a tensor"),
    ("lengths differ", good(data="\ndef data():\n    return {'train': (torch.zeros(5, 2), torch.zeros(4, 1))}\n"),
     "data()['train']: x has 5 rows but y has 4"),
    ("empty", good(data="\ndef data():\n    return {'train': (torch.zeros(0, 2), torch.zeros(0, 1))}\n"),
     "data()['train'] is empty (0 rows)"),
    ("nan in x", good(data="\ndef data():\n    x = torch.zeros(6, 2)\n    x[3, 1] = float('nan')\n"
                      "    return {'train': (x, torch.zeros(6, 1))}\n"),
     "data()['train']: x holds NaN or Inf in 1 row(s), the first at row 3"),
    ("inf in test x", good(data="\ndef data():\n    x = torch.zeros(6, 2)\n    xt = x.clone()\n"
                           "    xt[0, 0] = float('inf')\n"
                           "    return {'train': (x, torch.zeros(6, 1)), 'test': (xt, torch.zeros(6, 1))}\n"),
     "data()['test']: x holds NaN or Inf in 1 row(s), the first at row 0"),
    ("unknown split", good(data="\ndef data():\n    return {'train': (torch.zeros(6, 2), torch.zeros(6, 1)), 'val': 1}\n"),
     "data() returned unknown key(s) val"),
    ("shape mismatch", good(model="\ndef model():\n    return nn.Linear(2, 3)\n"),
     "output/target shape mismatch: the model's output has shape (20, 3) but the target y has shape (20, 1)"),
    ("loss not scalar", good(loss="\ndef loss(out, t):\n    return (out - t) ** 2\n"),
     "loss(output, target) must return a scalar tensor (the batch's mean loss), got (20, 1)"),
    ("loss nan at init", good(loss="\ndef loss(out, t):\n    return ((out - t) ** 2).mean() * float('nan')\n"),
     "loss(output, target) is nan at initialisation"),
    ("loss detached", good(loss="\ndef loss(out, t):\n    return ((out - t) ** 2).mean().detach()\n"),
     "loss(output, target) does not depend on the model's parameters"),
    ("no trainable parameters", good(model="\ndef model():\n    m = nn.Linear(2, 1)\n"
                                     "    m.requires_grad_(False)\n    return m\n"),
     "model() has no trainable parameters"),
    ("model not a module", good(model="\ndef model():\n    return lambda x: x\n"),
     "model() must return a torch.nn.Module, got function"),
    ("forward raises", good(model="\ndef model():\n    return nn.Linear(3, 1)\n"),
     "the model's forward pass on data()['train'] x (rows of shape (2,)) raised RuntimeError"),
    # the fourth hostile round: NumPy arrays torch cannot hold, and a 0-d one
    ("numpy complex", "import numpy as np\n" + good(data=NUMPY.format("x.astype(np.complex64)")),
     "data()['train']: x is a NumPy array of dtype complex64; data() takes arrays of bool, integers or "
     "float16/32/64; convert it, e.g. x.astype(np.float32)"),
    ("numpy object", "import numpy as np\n" + good(data=NUMPY.format("x.astype(object)")),
     "data()['train']: x is a NumPy array of dtype object; data() takes"),
    ("numpy 0-d", "import numpy as np\n" + good(
        data="\ndef data():\n    return {'train': (np.array(1.0), np.array(2.0))}\n"),
     "data()['train']: x and y need a first dimension of rows (got shapes () and ())"),
]


def _everything(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
def test_a_bad_model_file_is_one_error_line_exit_2_and_records_nothing(cli, tmp_path, name, text, expected):
    path = tmp_path / ("m.txt" if name == "not .py" else "m.py")
    if text is not None:
        path.write_text(text)
    before = _everything(tmp_path)
    result = cli("train", str(path), "--steps", "2")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert expected.replace("{tmp}", str(tmp_path)) in lines[0], lines
    assert _everything(tmp_path) == before  # no store, no figures: nothing


def test_the_same_errors_reach_python_as_sgdlab_errors(tmp_path):
    from sgdlab import SgdlabError, train

    path = tmp_path / "m.py"
    path.write_text(good(model="\ndef model():\n    return nn.Linear(2, 3)\n"))
    with pytest.raises(SgdlabError, match=r"shape \(20, 3\) but the target y has shape \(20, 1\)"):
        train(str(path), steps=1, plots=False)
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("args,expected", [
    (["--steps", "2", "--epochs", "2"], "--epochs and --steps both say how long to train: give one"),
    (["--batch-size", "50"], "--batch-size 50 is larger than the training set (20 rows); give at most 20 (or full)"),
    (["--batch-size", "4,8"], "--batch-size takes one size here, got '4,8' (a grid: `sgdlab sweep {path}`)"),
    (["--lr", "-1"], "--lr must be a finite number > 0, got -1.0"),
])
def test_bad_flags_with_a_good_file(cli, tmp_path, args, expected):
    path = tmp_path / "m.py"
    path.write_text(good())
    result = cli("train", str(path), *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"error: {expected.replace('{path}', str(path))}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.py"]


def test_a_numpy_dtype_torch_has_not_is_named_not_an_internal_error(cli, tmp_path):
    """np.longdouble is float128 on x86 Linux (torch has no such dtype: 'internal error
    (TypeError: can't convert np.ndarray of type numpy.longdouble'); elsewhere it is float64."""
    import numpy as np

    if np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("np.longdouble is float64 on this platform")
    path = tmp_path / "m.py"
    path.write_text("import numpy as np\n" + good(data=NUMPY.format("x.astype(np.longdouble)")))
    result = cli("train", str(path), "--steps", "2")
    assert result.exit_code == 2 and result.stderr.count("error: ") == 1, result.stderr
    assert f"x is a NumPy array of dtype {np.dtype(np.longdouble)}; data() takes" in result.stderr

