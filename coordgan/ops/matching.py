"""Hard nearest-neighbour matches between two point sets, chunked like the soft correspondence."""
import torch

from .distances import (autocast_off, check_chunk_size, default_chunk_size,
                        pairwise_sq_dists)


@torch.no_grad()
def nearest_matches(query, ref, tau=0.01, squared=False, chunk_size=None):
    """(B, Nq, D), (B, Nr, D) -> index (B, Nq) of the nearest ref point, its probability (B, Nq).

    The probability is that of the match under ``softmax_k(-dist / tau)``
    (plain L2 distance unless ``squared``), the rule label propagation uses:
    near 1 when one reference point is much closer than all others.
    """
    if query.dim() != 3 or ref.dim() != 3 or query.shape[0] != ref.shape[0] \
            or query.shape[2] != ref.shape[2]:
        raise ValueError(f'query (B, Nq, D) and ref (B, Nr, D) must agree, '
                         f'got {tuple(query.shape)} and {tuple(ref.shape)}')
    if not tau > 0:
        raise ValueError(f'tau must be > 0, got {tau!r}')
    check_chunk_size(chunk_size)
    dtype = torch.float64 if torch.float64 in (query.dtype, ref.dtype) \
        else torch.float32
    if chunk_size is None:
        chunk_size = default_chunk_size(ref.shape[0], ref.shape[1], dtype,
                                        ref.device)
    batch, num_query = query.shape[:2]
    index = torch.empty(batch, num_query, dtype=torch.long,
                        device=query.device)
    prob = torch.empty(batch, num_query, dtype=dtype, device=query.device)
    with autocast_off(query.device):
        q, r = query.to(dtype), ref.to(dtype)
        for start in range(0, num_query, chunk_size):
            rows = slice(start, start + chunk_size)
            dist = pairwise_sq_dists(q[:, rows], r)
            if not squared:
                dist.sqrt_()
            logits = dist.mul_(-1.0 / tau)
            best, index[:, rows] = logits.max(-1)
            prob[:, rows] = (best - torch.logsumexp(logits, -1)).exp_()
    return index, prob
