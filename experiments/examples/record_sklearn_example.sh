#!/usr/bin/env bash
# Run the README's scikit-learn example once and record what it printed, how long it took
# and how loaded the machine was, in experiments/examples/sklearn_example.txt (the file the
# README quotes; tests/test_readme.py checks the quoted figures against it).
#
# Usage: experiments/examples/record_sklearn_example.sh [python]
# Set OMP_NUM_THREADS to choose torch's thread count (default: one per core).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${1:-python}"
out="$here/sklearn_example.txt"
printed="$(mktemp)"
trap 'rm -f "$printed"' EXIT

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
start="$(date +%s.%N)"
"$python" "$here/sklearn_example.py" >"$printed"
end="$(date +%s.%N)"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
threads="$("$python" -c 'import torch; print(torch.get_num_threads())')"

{
  echo "command: ${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS }python experiments/examples/sklearn_example.py"
  echo "printed: $(cat "$printed")"
  echo "wall seconds: $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
  echo "cpu cores: $(getconf _NPROCESSORS_ONLN)"
  echo "torch threads: $threads"
  echo "load average (1, 5, 15 min) before: $load_before"
  echo "load average (1, 5, 15 min) after: $load_after"
  echo "finished: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
