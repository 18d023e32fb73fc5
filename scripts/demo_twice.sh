#!/usr/bin/env bash
# Same command, same result: runs the demo twice, on 1 thread and on 2 (out/demo-1t, out/demo-2t),
# and compares what it printed (the scores), vpq-final.txt and the trained weights byte for byte.
# About twice the demo's time. Usage: bash scripts/demo_twice.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: scripts/demo_twice.sh BUILD_DIR}
mkdir -p out
for t in 1 2; do
  # the scores: what the demo prints after its step 5/5, less its own [demo] lines (the time differs)
  DEMO_THREADS=$t DEMO_OUT=out/demo-${t}t bash scripts/demo.sh "$B" |
    awk '/^\[demo\] 5\/5/ {on = 1} on && !/^\[demo\]/' >"out/demo-${t}t.scores"
done
cmp out/demo-1t.scores out/demo-2t.scores
cmp out/demo-1t/vpq-final.txt out/demo-2t/vpq-final.txt
cmp out/demo-1t/run/model.safetensors out/demo-2t/run/model.safetensors
echo "demo_twice: 1 and 2 threads printed the same scores, the same vpq-final.txt and the same weights"
