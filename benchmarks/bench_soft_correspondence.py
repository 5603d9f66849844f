"""Forward+backward time and peak memory of chunked soft_correspondence vs. the dense reference.

Warps an RGB image between two size x size coordinate maps (N = size**2 points). Each variant
runs in its own child process so that its peak memory (max RSS on CPU, max allocated on CUDA)
is not polluted by the other. Run from the repository root, e.g.:

    PYTHONPATH=. python benchmarks/bench_soft_correspondence.py --size 64
"""

import argparse
import functools
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from coordgan.ops.soft_correspondence import dense_soft_correspondence, soft_correspondence

TAU = 0.01
VARIANTS = ("chunked", "dense")


def parse_args():
    """-> parsed command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="coordinate maps are size x size")
    parser.add_argument("--repeats", type=int, default=3, help="timed forward+backward runs (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (fresh pages fault slowly)")
    parser.add_argument("--chunk-size", type=int, default=None, help="query rows per chunk (default: ~8 MiB chunks on CPU, ~32 MiB on GPU)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--skip-dense", action="store_true", help="dense needs ~9.7 GiB at size 128")
    parser.add_argument("--variant", choices=VARIANTS, help="internal: measure one variant and print JSON")
    return parser.parse_args()


def make_inputs(size, device):
    """-> query (1, N, 2) perturbed grid, ref (1, N, 2) grid and an RGB image (1, N, 3), all requiring grad."""
    gen = torch.Generator().manual_seed(0)
    lin = torch.linspace(-1, 1, size)
    ys, xs = torch.meshgrid(lin, lin, indexing="ij")
    ref = torch.stack((xs, ys), dim=-1).reshape(1, -1, 2)
    query = ref + 0.02 * torch.randn(ref.shape, generator=gen)
    image = torch.rand(1, size * size, 3, generator=gen)
    return [t.to(device).requires_grad_() for t in (query, ref, image)]


def memory_mark(device):
    """-> current high-water mark of memory in bytes (process max RSS on CPU, max allocated on CUDA)."""
    if device == "cuda":
        return torch.cuda.max_memory_allocated()
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(variant, args):
    """-> {'time_s': median forward+backward seconds, 'peak_mib': peak memory above the inputs} for one variant."""
    inputs = make_inputs(args.size, args.device)
    if variant == "chunked":
        run = functools.partial(soft_correspondence, *inputs, tau=TAU, chunk_size=args.chunk_size)
    else:
        run = functools.partial(dense_soft_correspondence, *inputs, tau=TAU)
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    baseline = memory_mark(args.device)
    times = []
    for _ in range(args.warmup + args.repeats):
        for tensor in inputs:
            tensor.grad = None
        start = time.perf_counter()
        run().sum().backward()
        if args.device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    times = times[args.warmup:]
    return {"time_s": statistics.median(times), "peak_mib": (memory_mark(args.device) - baseline) / 2**20}


def run_child(variant, args):
    """-> measure()'s result for variant, obtained from a fresh interpreter."""
    command = [sys.executable, __file__, "--variant", variant, "--size", str(args.size), "--device", args.device]
    command += ["--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    if args.chunk_size is not None:
        command += ["--chunk-size", str(args.chunk_size)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_table(args, results):
    """Print one row per variant plus the dense/chunked ratio when both ran."""
    print(f"soft_correspondence fwd+bwd, {args.size}x{args.size} maps (N={args.size**2}), C=3, tau={TAU}, "
          f"device={args.device}, threads={torch.get_num_threads()}, "
          f"median of {args.repeats} after {args.warmup} warm-up")
    print(f"{'variant':<14}{'time [s]':>10}{'peak [MiB]':>12}")
    for variant, result in results.items():
        print(f"{variant:<14}{result['time_s']:>10.3f}{result['peak_mib']:>12.1f}")
    if len(results) == len(VARIANTS):
        chunked, dense = results["chunked"], results["dense"]
        print(f"{'dense/chunked':<14}{dense['time_s'] / chunked['time_s']:>9.2f}x"
              f"{dense['peak_mib'] / max(chunked['peak_mib'], 1e-9):>11.1f}x")


def main():
    args = parse_args()
    if args.variant is not None:
        print(json.dumps(measure(args.variant, args)))
        return
    variants = VARIANTS[:1] if args.skip_dense else VARIANTS
    print_table(args, {variant: run_child(variant, args) for variant in variants})


if __name__ == "__main__":
    main()
