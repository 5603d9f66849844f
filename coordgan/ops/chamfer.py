"""Chamfer distance between point sets without an (N, M) matrix in the autograd graph.

Nearest neighbours are searched chunk by chunk without gradients; the differentiable
distances are then recomputed on the gathered (B, N, D) pairs, which yields the same
values and gradients as the dense min away from ties.
"""

import torch

from .distances import (check_chunk_size, compute_dtype, default_chunk_size,
                        pairwise_sq_dists)


def _check_points(a, b):
    """Raise ValueError unless a is (B, N, D) and b is (B or 1, M, D) with N, M, D >= 1."""
    if a.dim() != 3 or min(a.shape[1:]) < 1:
        raise ValueError(f"a must have shape (B, N, D) with N, D >= 1, got {tuple(a.shape)}")
    batch, _, dims = a.shape
    if b.dim() != 3 or b.shape[0] not in (1, batch) or b.shape[2] != dims or b.shape[1] < 1:
        raise ValueError(
            f"b must have shape (B={batch} or 1, M, D={dims}) with M >= 1 to match a, got {tuple(b.shape)}"
        )


def _nearest_indices(src, dst, chunk_size):
    """(B, n, D), (B, m, D) -> (B, n) index of each src point's nearest dst point (squared L2)."""
    dtype = compute_dtype(src, dst)
    with torch.no_grad():
        s, d = src.to(dtype), dst.to(dtype)
        if chunk_size is None:
            chunk_size = default_chunk_size(s.shape[0], d.shape[1], dtype, s.device)
        idx = torch.empty(s.shape[:2], dtype=torch.long, device=s.device)
        for start in range(0, s.shape[1], chunk_size):
            rows = slice(start, start + chunk_size)
            idx[:, rows] = pairwise_sq_dists(s[:, rows], d).argmin(-1)
    return idx


def _mean_nearest_dist(src, dst, squared, chunk_size):
    """(B, n, D), (B, m, D) -> (B,) mean over src of the distance to its nearest dst point."""
    idx = _nearest_indices(src, dst, chunk_size)
    nearest = dst.gather(1, idx.unsqueeze(-1).expand(-1, -1, dst.shape[-1]))
    diff = src - nearest
    dist = diff.square().sum(-1) if squared else torch.linalg.vector_norm(diff, dim=-1)
    return dist.mean(1)


def chamfer_distance(a, b, squared=True, chunk_size=None):
    """(B, N, D), (B, M, D) -> scalar: mean over a of min distance to b + mean over b of min distance to a, averaged over the batch."""
    _check_points(a, b)
    check_chunk_size(chunk_size)
    # An expanded view lets a shared (1, M, D) target broadcast without copies; gather's
    # backward then sums its gradient over the batch.
    b = b.expand(a.shape[0], -1, -1)
    return (_mean_nearest_dist(a, b, squared, chunk_size) + _mean_nearest_dist(b, a, squared, chunk_size)).mean()


def dense_chamfer_distance(a, b, squared=True):
    """Reference building the full (B, N, M) matrix; tests/benchmarks only."""
    _check_points(a, b)
    diff = a[:, :, None, :] - b[:, None, :, :]
    dist = diff.square().sum(-1) if squared else torch.linalg.vector_norm(diff, dim=-1)
    return (dist.amin(2).mean(1) + dist.amin(1).mean(1)).mean()
