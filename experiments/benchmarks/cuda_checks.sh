#!/usr/bin/env bash
# CUDA tests and benchmarks in one go, for a GPU machine (run from the repository root,
# with hsi_attn installed and HSI_ATTN_DATA pointing at a folder that holds Indian Pines).
#
#   experiments/benchmarks/cuda_checks.sh OUTDIR
#
# Writes to OUTDIR: device.txt, cuda_tests.log, and the JSON lines of the inference,
# training-throughput and main-job benchmarks run with --device cuda.
set -uo pipefail
out=${1:?usage: experiments/benchmarks/cuda_checks.sh OUTDIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
status=0
{ nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } \
    | tee "$out/device.txt"
python3 -m pytest -q -p no:cacheprovider -m cuda -rs tests 2>&1 | tee "$out/cuda_tests.log" || status=1
python3 experiments/benchmarks/inference.py --device cuda --result-name inference_cuda || status=1
python3 experiments/benchmarks/train_throughput.py --device cuda --epochs 4 \
    --result-name train_throughput_cuda || status=1
python3 experiments/benchmarks/train_default.py --device cuda || status=1
results=experiments/benchmarks/results
cp "$results/inference_cuda.json" "$results/train_throughput_cuda.json" "$out/" || status=1
cp "$results/train_default.json" "$out/train_default_cuda.json" || status=1
exit $status
