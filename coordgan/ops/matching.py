"""Hard nearest-neighbour matches between two point sets, chunked like the soft correspondence."""
import torch

from .distances import (autocast_off, check_chunk_size, compute_dtype,
                        default_chunk_size)
from .soft_correspondence import _check_inputs, _neg_scaled_dists


def _best(logits):
    """(B, n, m) logits -> index of each row's largest (B, n), softmax (B, n, m), that entry's probability (B, n)."""
    index = logits.max(-1).indices
    # torch.softmax, not best - logsumexp: on the CPU it is about 3 times as
    # fast (logsumexp was 80 % of a dense-match pass at 64 x 64 points).
    probs = torch.softmax(logits, -1)
    return index, probs, probs.gather(-1, index[..., None])[..., 0]


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
    return _matching_pass(query, ref, None, tau, squared, chunk_size)[1:]


@torch.no_grad()
def soft_correspondence_with_matches(query, ref, values, tau=0.01,
                                     squared=False, chunk_size=None):
    """(B, Nq, D), (B, Nr, D), (B, Nr, C) -> soft values (B, Nq, C), nearest index (B, Nq), its probability (B, Nq).

    :func:`soft_correspondence` (without gradients) and
    :func:`nearest_matches` in one pass: each chunk's distances and softmax
    are computed once for both, so label propagation with dense matches
    costs about what propagation alone does.
    """
    _check_inputs(query, ref, values, tau)
    return _matching_pass(query, ref, values, tau, squared, chunk_size)


def _matching_pass(query, ref, values, tau, squared, chunk_size):
    """Chunk by chunk: -> softmax @ values (None without values), nearest index, its probability."""
    check_chunk_size(chunk_size)
    tensors = (query, ref) if values is None else (query, ref, values)
    dtype = compute_dtype(*tensors)
    if chunk_size is None:
        chunk_size = default_chunk_size(ref.shape[0], ref.shape[1], dtype,
                                        ref.device)
    batch, num_query = query.shape[:2]
    index = torch.empty(batch, num_query, dtype=torch.long,
                        device=query.device)
    prob = torch.empty(batch, num_query, dtype=dtype, device=query.device)
    out = None if values is None else torch.empty(
        batch, num_query, values.shape[2], dtype=dtype, device=query.device)
    with autocast_off(query.device):
        q, r = query.to(dtype), ref.to(dtype)
        v = None if values is None else values.to(dtype)
        for start in range(0, num_query, chunk_size):
            rows = slice(start, start + chunk_size)
            logits = _neg_scaled_dists(q[:, rows], r, tau, squared)
            index[:, rows], probs, prob[:, rows] = _best(logits)
            if v is not None:
                torch.bmm(probs, v, out=out[:, rows])
    return out, index, prob
