"""Pairwise-distance helpers shared by the chunked ops."""
import contextlib

import torch

# Target size of one (B, chunk, Nr) scratch matrix when chunk_size is None.
# CUDA: label propagation of the 128 model at batch 8 runs at 6.8 queries/s
# with 32 MiB chunks (64 rows) and 16.0 with 512 MiB (1024 rows); bigger
# chunks gain nothing more (17.1 with the whole affinity) and cost memory
# (docs/benchmarks.md, one H200).
_CHUNK_BYTES = {'cpu': 8 * 2**20, 'cuda': 512 * 2**20}
_DEFAULT_CHUNK_BYTES = 32 * 2**20


def compute_dtype(*tensors):
    """Tensors -> float64 if any is float64, else float32 (half inputs lose too much inside exp/softmax)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def default_chunk_size(batch, cols, dtype, device=None):
    """-> number of rows so that one (batch, rows, cols) tensor of dtype is about 8 MiB (CPU), 512 MiB (CUDA) or 32 MiB."""
    # On the CPU, 8 MiB chunks measured both faster and smaller than 32 MiB
    # ones (benchmarks/bench_soft_correspondence.py); GPUs like bigger ones.
    target = _CHUNK_BYTES.get(torch.device(device or 'cpu').type, _DEFAULT_CHUNK_BYTES)
    row_bytes = max(1, batch * cols * torch.empty((), dtype=dtype).element_size())
    return max(1, target // row_bytes)


def check_chunk_size(chunk_size):
    """Raise ValueError unless chunk_size is None or a positive int."""
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be None or a positive int, got {chunk_size!r}")


def autocast_off(device):
    """-> context disabling autocast on device, so the float32 math is not downcast by matmul autocasting."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def pairwise_sq_dists(a, b):
    """(B, n, D), (B or 1, m, D) -> (B, n, m) squared L2 distances from explicit coordinate differences."""
    # Summing per-coordinate squared differences avoids both the (n, m, D) tensor and the
    # catastrophic cancellation of |a|^2 + |b|^2 - 2ab, which a small tau would amplify.
    out = (a[..., 0, None] - b[..., None, :, 0]).square_()
    for d in range(1, a.shape[-1]):
        out.add_((a[..., d, None] - b[..., None, :, d]).square_())
    return out
