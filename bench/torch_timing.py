"""Shared by the PyTorch sides of the benchmarks (imported from bench/, the scripts' folder): the
command-line options every side takes, the timing, the peak GPU memory.

Each side's positional arguments are its own; `--device cpu|cuda` and `--tf32 0|1` may stand anywhere
and are taken off sys.argv by device_args() before the side reads its positional ones."""
import statistics
import sys
import time

import torch


def device_args(argv=None):
    """Takes --device and --tf32 off argv (sys.argv by default) and returns the device ("cpu" when
    absent). --tf32 1 lets float32 matmuls and cuDNN convolutions use TF32 tensor cores, --tf32 0 (the
    default here) forbids both: PyTorch's own defaults differ between the two (matmul off, cuDNN on),
    and vps has no TF32 mode, so off is the like-for-like comparison."""
    argv = sys.argv if argv is None else argv
    device, tf32, rest = "cpu", "0", [argv[0]]
    i = 1
    while i < len(argv):
        if argv[i] in ("--device", "--tf32"):
            if i + 1 >= len(argv):
                sys.exit(f"{argv[0]}: {argv[i]} needs a value")
            if argv[i] == "--device":
                device = argv[i + 1]
            else:
                tf32 = argv[i + 1]
            i += 2
            continue
        rest.append(argv[i])
        i += 1
    if device != "cpu" and not device.startswith("cuda"):
        sys.exit(f"{argv[0]}: --device must be cpu or cuda[:N], got '{device}'")
    if tf32 not in ("0", "1"):
        sys.exit(f"{argv[0]}: --tf32 must be 0 or 1, got '{tf32}'")
    if device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"{argv[0]}: --device {device}: torch {torch.__version__} sees no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = tf32 == "1"
    torch.backends.cudnn.allow_tf32 = tf32 == "1"
    argv[:] = rest
    return device


def sync(device):
    """Waits for the queued work of device (torch.cuda.synchronize; nothing on the CPU)."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(f, reps=5, warmup=1, device="cpu", clock=time.perf_counter):
    for _ in range(warmup):
        f()
    sync(device)
    times = []
    for _ in range(reps):
        start = clock()
        f()
        sync(device)
        times.append((clock() - start) * 1e3)
    return statistics.median(times)


def print_peak_gpu_mb(device, prefix, extra=""):
    """On CUDA: "RESULT <prefix>_peak_gpu_mb MB" from torch.cuda.max_memory_allocated (bytes held by
    tensors at their peak, as vps_bench prints from its allocator); nothing on the CPU."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
        print(f"RESULT {prefix}_peak_gpu_mb {torch.cuda.max_memory_allocated() / 2**20:.1f} {extra}".rstrip(), flush=True)
