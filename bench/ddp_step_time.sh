#!/usr/bin/env bash
# bench/ddp_step_time.sh [BUILD_DIR]: the table of docs/distributed.md. Median step time of
# examples/ddp_mlp (an MLP 256 -> 512 -> 512 -> 512 -> 10, 0.66 M parameters, 2.6 MB of float32
# gradients, global batch 64, one thread per process) for 1, 2 and 4 processes, with DDP's
# buckets and overlap on (bucket_cap_mb 25, allreduce started during backward) and off (one
# allreduce per parameter, after backward). Runs alternate between configurations, REPEATS (5) times
# each; prints each run's median and, per configuration, the median of the runs.
set -euo pipefail
build=${1:-build/release}
repeats=${REPEATS:-5}
exe=$build/examples/ddp_mlp
args=(--features 256 --hidden 512 --layers 3 --classes 10 --samples 4096 --batch 64 --epochs 100 --steps 80)
declare -A runs
for ((k = 0; k < repeats; ++k)); do
  for np in 1 2 4; do
    for mode in on off; do
      if [[ $mode == on ]]; then extra=(--bucket-cap-mb 25); else extra=(--bucket-cap-mb 0 --no-overlap); fi
      ms=$(mpirun --allow-run-as-root --oversubscribe -np "$np" "$exe" "${args[@]}" "${extra[@]}" |
           sed -n 's/^median step time \([0-9.]*\) ms.*/\1/p')
      echo "np $np buckets+overlap $mode: $ms ms"
      runs[$np.$mode]+="$ms "
    done
  done
done
echo "--- median of $repeats runs (load: $(cut -d' ' -f1-3 /proc/loadavg))"
for np in 1 2 4; do
  for mode in on off; do
    med=$(tr ' ' '\n' <<<"${runs[$np.$mode]}" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "np $np buckets+overlap $mode: $med ms"
  done
done
