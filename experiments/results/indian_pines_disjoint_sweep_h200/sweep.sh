#!/usr/bin/env bash
# Validation-OA sweep for the disjoint protocol (seed 100, not an ablation seed) on the GPU.
out=$1
i=0
for cfg in "--patch-size 11" "--patch-size 5" "--patch-size 7" "--patch-size 5 --pca none" "--patch-size 11 --pca none" "--patch-size 3"; do
  i=$((i+1)); dir=/tmp/sweepd/c$i
  start=$(date +%s.%N)
  hsi-attn train --device cuda -q --split disjoint --out $dir --seed 100 $cfg > /dev/null 2>$dir.err || { echo "FAILED $cfg"; tail -3 $dir.err; continue; }
  end=$(date +%s.%N)
  python3 -c "
import json; m=json.load(open('$dir/metrics.json'))
print(json.dumps({'options': '$cfg', 'seed': 100, 'best_val_oa': m['best_val_oa'], 'test_oa': m['test']['oa'], 'test_aa': m['test']['aa'], 'best_epoch': m['best_epoch'], 'n_train': m['n_train'], 'n_val': m['n_val'], 'n_test': m['n_test'], 'wall_s': round($end-$start,1)}))" | tee -a $out/sweep_disjoint.jsonl
done
