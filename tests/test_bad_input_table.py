"""A hostile but honest user, as a table: every bad input on every command gives exactly the
`error: ...` lines, exit code 2, no traceback, and leaves nothing behind (no store, no folder).

Each row is (arguments, a piece of the expected first error line). ``{tmp}`` is the test's
folder; the files named in FILES are made there first (and are all that may be there after).
"""

from __future__ import annotations

import gzip
import json
import shlex

import pytest

from conftest import device_node

FILES = {
    "afile": b"not a folder",
    "adir/keep": b"",
    "ok.csv": b"a,b,y\n1,2,3\n2,3,5\n3,5,8\n4,1,5\n",
    "dup.csv": b"x,x,y\n1,2,3\n2,3,5\n3,4,6\n",
    "wide.csv": b"x,y\n" + b",".join([b"1"] * 100_000) + b"\n3,4\n5,6\n",
    "latin1.csv": "pr\u00e9cis,y\n1,2\n2,3\n3,5\n".encode("latin-1"),
    "notgz.csv.gz": b"x,y\n1,2\n2,3\n3,5\n",
    "noname.csv": b"x,,y\n1,2,3\n2,3,5\n3,4,6\n",
    "big.csv": b"x,y\n1e39,2\n2,3\n3,5\n",
    "quote.csv": b'x,y\n"1,2\n2,3\n',
    "nul.csv": b"x,y\n1,2\x00\n2,3\n3,5\n",
    "notdb.db": b"hello, not sqlite",
    "rows.py": (b"import torch\ndef data():\n    x = torch.linspace(0, 1, 60).reshape(20, 3)\n"
                b"    return {'train': (x, x.sum(1, keepdim=True))}\n"
                b"def model():\n    return torch.nn.Linear(3, 1)\n"
                b"def loss(o, t):\n    return ((o - t) ** 2).mean()\n"),
    "idx/train-images-idx3-ubyte.gz": b"<html>404 not found</html>",
    "idx/train-labels-idx1-ubyte.gz": gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x00"),
    "idx/t10k-images-idx3-ubyte.gz": b"<html>404 not found</html>",
    "idx/t10k-labels-idx1-ubyte.gz": b"<html>404 not found</html>",
}

BIG = "99999999999999999999999"
CASES = [
    # numbers in range, overflow included
    ("linreg --seed " + BIG, "--seed 99999999999999999999999 is out of range"),
    ("linreg --seed -1", "--seed must be between 0 and"),
    ("linreg --lr 1e308", "--lr 1e+308 does not fit in float32"),
    ("linreg --weight-decay 1e39", "--weight-decay 1e+39 does not fit in float32"),
    ("linreg --optimizer adam --eps 1e300", "--eps 1e+300 does not fit in float32"),
    ("linreg --lr 1e400", "--lr must be a finite number > 0, got inf"),
    ("mnist --optimizer adam --eps 1e-46", "--eps 1e-46 rounds to 0 in float32 (smallest positive value 1.401e-45)"),
    ("train {tmp}/rows.py --optimizer adam --eps 1e-46 --batch-size 10", "--eps 1e-46 rounds to 0 in float32"),
    ("linreg --steps 100000000000000", "is more than the limit 10,000,000"),
    ("linreg --epochs 10000000 --batch-size 1", "asks for 150,000,000 updates"),
    ("linreg --batch-size " + BIG, "is out of range"),
    ("mnist --hidden 100000000000", "parameters) at batch size 100 needs about"),
    ("mnist --hidden 200,,10", "--hidden: empty value"),
    ("mnist --lr 1e308", "--lr 1e+308 does not fit in float32 (largest value 3.403e+38); use a smaller value"),
    ("mnist --epochs 100000 --batch-size 1", "asks for 400,000,000 updates"),
    ("mnist --limit-train 0", "--limit-train must be >= 1, got 0"),
    ("mnist --limit-train 0 --dry-run", "--limit-train must be >= 1, got 0"),
    ("mnist --checkpoint-every 0", "--checkpoint-every must be >= 1"),
    ("surface bowl --steps 100000000000000", "is more than the limit 1,000,000"),
    ("surface bowl --noise 1 --noise-samples 1000000000000", "--noise-samples 1,000,000,000,000 is more"),
    ("surface bowl --noise 1 --seed 9223372036854775807", "--seed must be between 0 and"),
    ("sweep linreg --lr 0.1 --seeds 1000000000000 --yes", "--seeds 1,000,000,000,000 is more than the limit"),
    ("sweep linreg --lr 0.1 --seeds 20000", "the grid has 20,000 cells"),
    ("sweep linreg --lr 0.1 --seed 9223372036854775807 --seeds 2", "--seed must be between 0 and"),
    ("sweep linreg --lr 0.1 --target nan", "--target must be a finite loss, got nan"),
    ("runs --limit -1", "--limit must be >= 0"),
    ("mnist --batch-size 10,10", "--batch-size gives 10 twice"),
    ("surface bowl --lr 0.1,0.1", "--lr gives 0.1 twice"),
    ("sweep linreg --lr 0.1 --executor process --workers 100000", "--workers must be 1 .. 256"),
    # output paths
    ("linreg --out ''", "--out: the path is empty"),
    ("linreg --store ''", "--store: the path is empty"),
    ("linreg --csv ''", "--csv: the path is empty"),
    ("mnist --dataset mnist --data-dir ''", "--data-dir: the path is empty"),
    ("report --sweep ''", "--sweep: the sweep id is empty"),
    ("linreg --out {tmp}/afile", "--out: {tmp}/afile is a file, not a folder"),
    ("linreg --out {tmp}/afile/sub", "--out: {tmp}/afile/sub cannot be created: {tmp}/afile is a file"),
    ("linreg --out /proc/sgdlab-out", "--out: /proc/sgdlab-out cannot be written"),
    ("mnist --out {tmp}/afile --dry-run", "--out: {tmp}/afile is a file, not a folder"),
    ("surface bowl --out {tmp}/afile", "--out: {tmp}/afile is a file, not a folder"),
    ("sweep linreg --lr 0.1 --out {tmp}/afile", "--out: {tmp}/afile is a file, not a folder"),
    ("demo --quick --out {tmp}/afile", "--out: {tmp}/afile is a file, not a folder"),
    ("linreg --store {tmp}/adir", "is a folder; give a file name"),
    ("linreg --store {tmp}/afile/runs.db", "{tmp}/afile is a file, not a folder"),
    ("linreg --store {tmp}/notdb.db", "cannot open the run store {tmp}/notdb.db"),
    ("linreg --store /proc/sgdlab/runs.db", "cannot be written"),
    ("report x --out {tmp}/adir", "report --out: {tmp}/adir is a folder"),
    ("report x --out {tmp}/afile/r.html", "{tmp}/afile is a file, not a folder"),
    # flags that do not apply
    ("surface saddle --curvature 2,3", "--curvature sets the curvatures of `bowl` only"),
    ("surface bowl --noise-samples 10", "--noise-samples is the number of noisy gradients"),
    ("surface bowl --seed 3", "--seed drives the gradient noise"),
    ("surface bowl --escape-radius 2", "--escape-radius measures the escape from a saddle"),
    ("sweep linreg --lr 0.1 --hidden 10", "--hidden applies to `sgdlab sweep mnist` only, not linreg"),
    ("sweep linreg --lr 0.1 --noise 1", "--noise applies to `sgdlab sweep surface` only"),
    # the problems whose config has the field, in the registry's order (a new problem adds to the end)
    ("sweep mnist --lr 0.1 --steps 5", "--steps applies to `sgdlab sweep linreg / surface"),
    ("sweep surface --lr 0.1 --batch-size 5", "--batch-size applies to `sgdlab sweep linreg / mnist"),
    ("sweep surface --lr 0.1 --seeds 3", "--seeds would repeat identical surface runs"),
    ("sweep linreg --lr 0.1 --workers 2", "--workers is for --executor process"),
    ("sweep --resume s1 --lr 0.1", "--lr cannot change a resumed sweep's grid"),
    ("linreg --epochs 3 --steps 10", "--steps and --epochs both set the length"),
    ("linreg --keep-checkpoint", "--keep-checkpoint needs checkpoints"),
    ("linreg --out x --no-plots", "--out is the folder for figures; --no-plots draws none"),
    ("mnist --dry-run --epochs 3", "--epochs does not apply to --dry-run"),
    ("runs show x --limit 3", "--limit limits the list"),
    # data that is not what it claims
    ("linreg --csv {tmp}/dup.csv", "the header names column(s) 'x' more than once"),
    ("linreg --csv {tmp}/wide.csv", "line 2 has 100,000 fields but the lines before it have 2"),
    ("linreg --csv {tmp}/latin1.csv", "is not UTF-8 text: byte 0xe9 on line 1"),
    ("linreg --csv {tmp}/notgz.csv.gz", "is named .gz but it is not gzip"),
    ("linreg --csv {tmp}/noname.csv", "column 2 of the header has no name"),
    ("linreg --csv {tmp}/big.csv", "1e+39 does not fit in float32"),
    ("linreg --csv {tmp}/quote.csv", "a quote (\") is opened and never closed"),
    ("linreg --csv {tmp}/nul.csv", "holds NUL bytes"),
    ("linreg --csv {tmp}/ok.csv --x a,a", "--x names 'a' twice"),
    ("linreg --csv /dev/null", "is not a regular file"),
    ("mnist --dataset mnist --data-dir {tmp}/idx", "is named .gz but is not gzip-compressed: it looks like an HTML"),
    # run ids are ids
    ("runs show %", "no run store at"),
    ("runs --sweep UNKNOWN", "no sweep 'UNKNOWN'"),
    ("resume nope", "no run store at"),
    # usage errors in the same format
    ("linreg --lrr 3", "sgdlab linreg: unknown option --lrr; did you mean --lr?"),
    ("linreg --lr abc", "--lr: 'abc' is not a number"),
    ("linreg --seed 1.5", "--seed: '1.5' is not a whole number"),
    ("lineg", "unknown command 'lineg'; did you mean linreg?"),
    ("linreg --lr", "--lr needs a value"),
    ("linreg extra", "sgdlab linreg: unexpected argument(s) extra"),
    ("runs show a b", "sgdlab runs: unexpected argument(s) b"),
    ("optimizers --lr 3", "sgdlab optimizers: unknown option --lr"),
    ("sweep linreg --lr 0.1 --executor rays", "unknown executor 'rays'"),
    ("surface bowl --lr 0.1 --optimizer adma", "unknown optimizer 'adma'"),
    # the theory's commands
    ("mnist --batch-size ful", "--batch-size: 'ful' is not a whole number"),
    ("mnist --no-bound --sharpness-subset 10", "--sharpness-subset needs the sharpness; --no-bound skips it"),
    ("mnist --out {tmp}/afile", "--out: {tmp}/afile is a file, not a folder"),
    ("sharpness --lr 0,0.2", "--lr must be a finite number > 0, got 0.0"),
    ("sharpness --steps 100000000000000", "--steps 100,000,000,000,000 is more than the limit 10,000,000"),
    ("sharpness --loss hinge", "--loss must be one of cross-entropy, mse, got 'hinge'"),
    ("sharpness --out {tmp}/afile", "--out: {tmp}/afile is a file, not a folder"),
    ("noise-scale --two-batch 100,150", "--two-batch must be SMALL,BIG with 1 <= SMALL < BIG and BIG a multiple"),
    ("noise-scale --train-steps -1", "--train-steps must be >= 0, got -1"),
    ("noise-scale --target 0.5", "--target belongs to the study: give --batch-sizes too"),
    ("noise-scale --batch-sizes 10,5000", "--batch-sizes: 5000 must be between 1 and the training set's 4000 images"),
    ("noise-scale --batch-sizes 10 --out {tmp}/afile", "--out: {tmp}/afile is a file, not a folder"),
    ("lr-find linreg --num 1", "--num must be >= 2, got 1"),
    ("lr-find linreg --csv {tmp}/dup.csv", "the header names column(s) 'x' more than once"),
    ("lr-find mnist --normalize minmax", "--normalize must be one of tutorial, standardize, got 'minmax'"),
    ("lr-find mnist --out {tmp}/afile", "--out: {tmp}/afile is a file, not a folder"),
    ("lr-find surface", "unknown command 'surface'"),
    # issue 19, the third hostile round
    ("lr-find linreg --end inf", "--end must be a finite number <= 3.403e+38 (float32's largest), got inf"),
    ("lr-find mnist --end 1e39", "--end must be a finite number <= 3.403e+38 (float32's largest), got 1e+39"),
    ("noise-scale --batch-sizes ''", "--batch-sizes: empty value in ''"),
    # the fourth hostile round: too few rows named for what they are, not a flag never given
    ("noise-scale --limit-train 1", "the noise scale needs at least 2 training images"),
    ("noise-scale --limit-train 1 --batch-size 1", "the noise scale needs at least 2 training images"),
    # --sharpness-every past the run's end: step 0 alone (or nothing under Adam), said nowhere
    ("mnist --limit-train 200 --max-steps 4 --sharpness-every 5 --no-plots",
     "--sharpness-every 5 is more than the 2 updates of the run: the sharpness would be measured at "
     "initialisation only; give --sharpness-every <= 2"),
    ("mnist --limit-train 200 --sharpness-every 5 --optimizer adam --no-plots",
     "the preconditioned sharpness (from the first update on) would never be measured"),
    ("mnist --limit-train 200 --batch-size 10,full --sharpness-every 3",
     "--sharpness-every 3 is more than the 1 update of the run at batch size full"),
    ("train {tmp}/rows.py --batch-size 10 --sharpness-every 3",
     "--sharpness-every 3 is more than the 2 updates of the run"),
    ("sharpness --lr " + ",".join(["0.1"] * 1000), "--lr: 1,000 learning rates is more than the limit 20"),
    ("sharpness --every 1000 --steps 5", "--every 1000 is more than --steps 5"),
    ("runs --store {tmp}/adir", "{tmp}/adir is a folder; give a file name"),
    ("serve --store {tmp}/afile/x.db --port 0", "{tmp}/afile/x.db cannot be created: {tmp}/afile is a file"),
    ("serve --host 'not a host' --port 0", "cannot listen on not a host:0"),
    ("report x --out {dev}", "report --out: {dev} is a device node, not a regular file"),
    ("sweep mnist --resume s1", "no sweep 's1' in"),
    # a Ray address checked before anything is written, in seconds (Ray itself waits a minute)
    ("sweep linreg --lr 0.1 --executor ray --address 127.0.0.1:9",
     "--address 127.0.0.1:9: no Ray cluster answers there (connection refused)"),
    ("sweep linreg --lr 0.1 --executor ray --address ray://127.0.0.1:9", "no Ray cluster answers there"),
    ("sweep linreg --lr 0.1 --executor ray --address 'not a host'", "--address 'not a host' is not HOST:PORT"),
    ("sweep linreg --lr 0.1 --executor ray --address 127.0.0.1:99999", "is not HOST:PORT or ray://HOST:PORT"),
]


@pytest.fixture
def world(tmp_path):
    for name, data in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


def _everything(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("args,expected", CASES, ids=[c[0][:60] for c in CASES])
def test_bad_input_is_one_error_line_exit_2_and_leaves_nothing(cli, world, args, expected):
    dev = device_node(world)  # never the machine's /dev/null as root (conftest.device_node)
    expected = expected.replace("{dev}", str(dev))
    before = _everything(world)
    argv = shlex.split(args.replace("{tmp}", str(world)).replace("{dev}", str(dev)))
    result = cli(*argv)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert expected.replace("{tmp}", str(world)) in lines[0], lines
    assert _everything(world) == before  # no store, no figures folder, no cache: nothing


@pytest.mark.parametrize("args", ["linreg --lr abc", "linreg --seed -1", "runs --limit -1", "nope"])
def test_with_json_an_error_is_also_a_document_on_stdout(cli, args):
    result = cli(*shlex.split(args), "--json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["status"] == "error"
    assert [f"error: {e}" for e in document["errors"]] == result.stderr.strip().splitlines()


def test_report_leaves_no_stray_warnings_on_stderr(cli, tmp_path):
    run = cli.json("linreg", "--lr", "1", "--steps", "3", "--no-plots", code=3)
    result = cli("report", run["run_id"], "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 0 and result.stderr == ""


def test_errors_name_only_the_flags_that_were_given(cli):
    """A default that does not fit is named as a default, not as a flag the user did not give."""
    result = cli("mnist", "--limit-train", "50", "--no-plots")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: batch size 100 is larger than the training set (50 images); "
        "give --batch-size of at most 50 (or full)"]


def test_a_bug_is_one_line_exit_1_and_its_traceback_only_on_request(cli, monkeypatch):
    import sgdlab.linreg.run as linreg_run

    def broken(*args, **kwargs):
        raise RuntimeError("something sgdlab did not expect")

    monkeypatch.setattr(linreg_run, "run", broken)
    monkeypatch.delenv("SGDLAB_DEBUG")
    result = cli("linreg", "--json")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: internal error (RuntimeError: something sgdlab did not expect); this is a bug in "
        "sgdlab: please report the command; SGDLAB_DEBUG=1 shows the traceback"]
    assert json.loads(result.stdout)["status"] == "error"
    monkeypatch.setenv("SGDLAB_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli("linreg")


@pytest.mark.parametrize("config_class", ["mnist", "modelfile"])
def test_eps_is_checked_against_the_weights_own_dtype(tmp_path, config_class):
    """Found by the fourth hostile round: --eps 1e-46 rounds to 0 in float32 (an internal
    LinAlgError from the preconditioned sharpness, or 0/0 in Adam); under --dtype float64 it is a
    number, and 1e39 fits, which the check against a fixed float32 refused."""
    from sgdlab.core.errors import ConfigError
    from sgdlab.mnist.config import MnistConfig
    from sgdlab.modelfile.config import ModelFileConfig
    from sgdlab.optim.spec import OptimizerSpec

    make = MnistConfig if config_class == "mnist" else (lambda **kw: ModelFileConfig(file=str(tmp_path / "m.py"), **kw))
    for eps in (1e-46, 1e39):
        make(optimizer=OptimizerSpec("adam", eps=eps), dtype="float64").validate()
        with pytest.raises(ConfigError) as caught:
            make(optimizer=OptimizerSpec("adam", eps=eps), dtype="float32").validate()
        assert caught.value.problems[0].startswith(f"--eps {eps:g} ")
