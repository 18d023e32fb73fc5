#!/usr/bin/env python3
"""Reads the TensorBoard event files of a `vps train` run folder with the `tensorboard` package's
EventAccumulator, as TensorBoard itself does, and prints JSON: {"scalars": {tag: [[step, value], ...]},
"images": {tag: [[step, width, height], ...]}, "files": N}. Used by tests/test_tensorboard_events.cpp.
Exit code 3 (and a message) when the package is missing, so the test can skip.

  read_tensorboard.py RUN_DIR
"""
import json
import os
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError as e:  # the test skips with this message
    print("the Python package tensorboard is missing (%s): bash scripts/pypi.sh" % e, file=sys.stderr)
    sys.exit(3)

run = sys.argv[1]
acc = EventAccumulator(run, size_guidance={"scalars": 0, "images": 0})
acc.Reload()
tags = acc.Tags()
out = {"scalars": {}, "images": {}, "files": len([n for n in os.listdir(run) if "tfevents" in n])}
for t in tags["scalars"]:
    out["scalars"][t] = [[e.step, e.value] for e in acc.Scalars(t)]
for t in tags["images"]:
    out["images"][t] = [[e.step, e.width, e.height] for e in acc.Images(t)]
print(json.dumps(out))
