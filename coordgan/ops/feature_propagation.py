"""Label propagation by feature similarity: top-k (VFS) and nearest-neighbour (k = 1) rules.

Similarity is the dot product, i.e. the cosine for unit-length features. Each query
position keeps only its k most similar reference positions and mixes their values with
``softmax(sim / temperature)`` over those k; with k = 1 that is plain nearest neighbour
(the temperature then has no effect). Query rows are processed in chunks, so memory is
O(chunk x Nr) instead of one (Nq, Nr) similarity matrix.
"""
from typing import Optional, Tuple

import torch

from .distances import autocast_off, check_chunk_size, compute_dtype, default_chunk_size


def _check_inputs(query, ref, topk):
    """Raise ValueError unless query (B, Nq, D) and ref (B, Nr, D) agree and topk >= 1."""
    if query.dim() != 3 or query.shape[-1] < 1:
        raise ValueError(f'query must have shape (B, Nq, D) with D >= 1, got {tuple(query.shape)}')
    batch, _, dims = query.shape
    if ref.dim() != 3 or ref.shape[0] != batch or ref.shape[2] != dims or ref.shape[1] < 1:
        raise ValueError(f'ref must have shape (B={batch}, Nr, D={dims}) with Nr >= 1 to match query, '
                         f'got {tuple(ref.shape)}')
    if not isinstance(topk, int) or topk < 1:
        raise ValueError(f'topk must be a positive int, got {topk!r}')


def _chunk_rows(query, ref, chunk_size):
    """-> (dtype, rows per chunk) for a (B, rows, Nr) similarity scratch matrix."""
    dtype = compute_dtype(query, ref)
    check_chunk_size(chunk_size)
    if chunk_size is None:
        chunk_size = default_chunk_size(ref.shape[0], ref.shape[1], dtype, ref.device)
    return dtype, chunk_size


def topk_similarity(query: torch.Tensor, ref: torch.Tensor, topk: int,
                    chunk_size: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, Nq, D), (B, Nr, D) -> sims (B, Nq, k), indices (B, Nq, k) into Nr, most similar first.

    ``k = min(topk, Nr)``: a reference smaller than ``topk`` contributes all its positions.
    """
    _check_inputs(query, ref, topk)
    dtype, chunk_size = _chunk_rows(query, ref, chunk_size)
    k = min(topk, ref.shape[1])
    batch, num_query = query.shape[:2]
    sims = query.new_empty(batch, num_query, k, dtype=dtype)
    indices = torch.empty(batch, num_query, k, dtype=torch.long, device=query.device)
    with torch.no_grad(), autocast_off(query.device):
        q, r_t = query.to(dtype), ref.to(dtype).transpose(1, 2)
        for start in range(0, num_query, chunk_size):
            rows = slice(start, start + chunk_size)
            sims[:, rows], indices[:, rows] = torch.bmm(q[:, rows], r_t).topk(k, dim=-1)
    return sims, indices


def topk_propagation(query: torch.Tensor, ref: torch.Tensor, values: torch.Tensor,
                     topk: int = 10, temperature: float = 0.07,
                     chunk_size: Optional[int] = None) -> torch.Tensor:
    """(B, Nq, D), (B, Nr, D), (B, Nr, C) -> (B, Nq, C): softmax(sim / temperature) over each query's top-k, applied to values.

    ``topk=1`` is nearest-neighbour propagation: each query takes the values of its most
    similar reference position. Not differentiable (the baselines are frozen).
    """
    _check_inputs(query, ref, topk)
    if values.dim() != 3 or values.shape[:2] != ref.shape[:2]:
        raise ValueError(f'values must have shape (B={ref.shape[0]}, Nr={ref.shape[1]}, C) to match ref, '
                         f'got {tuple(values.shape)}')
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature!r}')
    dtype, chunk_size = _chunk_rows(query, ref, chunk_size)
    batch, num_query = query.shape[:2]
    num_ref, channels = values.shape[1:]
    flat_values = values.to(dtype).reshape(batch * num_ref, channels)
    # Row offsets turn per-sample reference indices into rows of the flattened batch.
    offsets = torch.arange(batch, device=query.device).mul_(num_ref).view(batch, 1, 1)
    out = flat_values.new_empty(batch, num_query, channels)
    for start in range(0, num_query, chunk_size):
        rows = slice(start, start + chunk_size)
        sims, indices = topk_similarity(query[:, rows], ref, topk, chunk_size)
        with torch.no_grad(), autocast_off(query.device):
            weights = torch.softmax(sims / temperature, dim=-1)          # (B, n, k)
            picked = flat_values[indices + offsets]                      # (B, n, k, C)
            out[:, rows] = torch.einsum('bnk,bnkc->bnc', weights, picked)
    return out
