#!/usr/bin/env bash
# Validation-OA sweep (seeds 100, 101: not the ablation's seeds) on the GPU.
out=$1
for cfg in "11 100" "13 100" "15 100" "11 200" "15 200"; do
  set -- $cfg
  for seed in 100 101; do
    dir=/tmp/sweep/p$1-e$2-s$seed
    start=$(date +%s.%N)
    hsi-attn train --device cuda -q --out $dir --patch-size $1 --epochs $2 --seed $seed > /dev/null 2>$dir.err || { echo "FAILED $cfg $seed"; tail -3 $dir.err; continue; }
    end=$(date +%s.%N)
    python3 -c "
import json,sys; m=json.load(open('$dir/metrics.json'))
print(json.dumps({'patch_size': $1, 'epochs': $2, 'seed': $seed, 'best_val_oa': m['best_val_oa'], 'test_oa': m['test']['oa'], 'best_epoch': m['best_epoch'], 'wall_s': round($end-$start,1)}))" | tee -a $out/sweep.jsonl
  done
done
