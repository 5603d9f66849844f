"""Soft nearest-neighbour correspondence: out = softmax_k(-dist(q_i, r_k) / tau) @ values.

The chunked op never keeps a (Nq, Nr) matrix between forward and backward: backward
recomputes each chunk's distances and softmax from the saved inputs, which turns the
~10 GiB dense graph of a 128x128 map pair into a handful of chunk-sized scratch buffers.
"""

import torch
from torch.autograd.function import once_differentiable

from .distances import (autocast_off, check_chunk_size, compute_dtype,
                        default_chunk_size, pairwise_sq_dists)

def _neg_scaled_dists(q, r, tau, squared):
    """(B, n, D), (B, m, D) -> (B, n, m) logits -dist / tau, with dist the L2 (or squared L2) distance."""
    dist = pairwise_sq_dists(q, r)
    if not squared:
        dist.sqrt_()
    return dist.mul_(-1.0 / tau)


def _coord_grad_weights(logits, probs, grad, values, tau, squared):
    """(B, n, m) logits, probs; (B, n, C) dOut; (B, m, C) values -> (B, n, m) M: dq_i = sum_k M_ik (q_i - r_k)."""
    # With dL = A * (G V^T - rowsum(A * G V^T)) and dd = -dL / tau, M is dd * 2 for squared
    # distances and dd / d = dL / (tau^2 L) for plain ones; folding that scale into the small
    # (n, C) factors saves a pass over the (n, m) matrix.
    scale = -2.0 / tau if squared else 1.0 / tau**2
    weights = torch.bmm(grad * scale, values.transpose(1, 2))
    # The row mean is taken over the very products it is subtracted from, so each row of M
    # sums to ~0 as it should; rowsum(G * out) would add its own rounding to every entry of
    # the row, which the coordinate sum then multiplies (float32 error twice as large).
    row_dot = torch.einsum("bnm,bnm->bn", weights, probs).unsqueeze(-1)
    weights.sub_(row_dot).mul_(probs)
    if squared:
        return weights
    # d|x|/dx = x / |x|; coincident points get 0, matching torch.linalg.vector_norm's subgradient.
    return weights.div_(logits).masked_fill_(logits == 0, 0.0)


class _SoftCorrespondence(torch.autograd.Function):
    """Chunked softmax(-dist / tau) @ values that saves only its inputs and recomputes chunks in backward."""

    @staticmethod
    def forward(ctx, query, ref, values, tau, squared, chunk_size):
        """(B, Nq, D), (B, Nr, D), (B, Nr, C) -> (B, Nq, C)."""
        ctx.save_for_backward(query, ref, values)
        ctx.tau, ctx.squared, ctx.chunk_size = tau, squared, chunk_size
        dtype = compute_dtype(query, ref, values)
        out_dtype = torch.promote_types(torch.promote_types(query.dtype, ref.dtype), values.dtype)
        with autocast_off(query.device):
            q, r, v = query.to(dtype), ref.to(dtype), values.to(dtype)
            out = v.new_empty(q.shape[0], q.shape[1], v.shape[2])
            for start in range(0, q.shape[1], chunk_size):
                rows = slice(start, start + chunk_size)
                # torch.softmax subtracts the row max, so tiny tau cannot underflow a row to zeros.
                probs = torch.softmax(_neg_scaled_dists(q[:, rows], r, tau, squared), dim=-1)
                out[:, rows] = torch.bmm(probs, v)
        return out.to(out_dtype if out_dtype.is_floating_point else dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        """(B, Nq, C) dOut -> gradients for query, ref and values (None where not needed)."""
        query, ref, values = ctx.saved_tensors
        need_q, need_r, need_v = ctx.needs_input_grad[:3]
        tau, squared, chunk_size = ctx.tau, ctx.squared, ctx.chunk_size
        dtype = compute_dtype(query, ref, values)
        with autocast_off(query.device):
            q, r, v, g = query.to(dtype), ref.to(dtype), values.to(dtype), grad_out.to(dtype)
            batch, num_ref = r.shape[:2]
            # Accumulating dV^T and dR^T as (B, C or D, Nr) keeps the long Nr axis contiguous:
            # the matmul output's rows for dV (several times faster than the transposed
            # product) and the reduced axis of each coordinate's column sum for dR.
            grad_q = torch.empty_like(q) if need_q else None
            grad_v_t = v.new_zeros(batch, v.shape[2], num_ref) if need_v else None
            grad_r_t = r.new_zeros(batch, r.shape[2], num_ref) if need_r else None
            for start in range(0, q.shape[1], chunk_size):
                rows = slice(start, start + chunk_size)
                q_c, g_c = q[:, rows], g[:, rows]
                logits = _neg_scaled_dists(q_c, r, tau, squared)
                probs = torch.softmax(logits, dim=-1)
                if need_v:
                    grad_v_t.baddbmm_(g_c.transpose(1, 2), probs)
                if not (need_q or need_r):
                    continue
                weights = _coord_grad_weights(logits, probs, g_c, v, tau, squared)
                # Expanding sum_k M_ik (q_i - r_k) as q_i sum_k M_ik - sum_k M_ik r_k cancels
                # catastrophically for nearby points (float32 gradients of 128x128 grids off by
                # ~5e-4), so each coordinate's differences are formed before weighting, in one
                # (B, chunk, Nr) buffer shared by the coordinates: a single extra chunk of memory.
                diff = torch.empty_like(weights)
                for d in range(q.shape[2]):
                    torch.sub(q_c[..., d, None], r[:, None, :, d], out=diff).mul_(weights)
                    if need_q:
                        grad_q[:, rows, d] = diff.sum(-1)
                    if need_r:
                        grad_r_t[:, d].sub_(diff.sum(1))
            grad_r = grad_r_t.transpose(1, 2) if need_r else None
        return (
            None if grad_q is None else grad_q.to(query.dtype),
            None if grad_r is None else grad_r.to(ref.dtype),
            None if grad_v_t is None else grad_v_t.transpose(1, 2).to(values.dtype),
            None,
            None,
            None,
        )


def _check_inputs(query, ref, values, tau):
    """Raise ValueError unless query (B, Nq, D), ref (B, Nr, D), values (B, Nr, C) agree and tau > 0."""
    if query.dim() != 3 or query.shape[-1] < 1:
        raise ValueError(f"query must have shape (B, Nq, D) with D >= 1, got {tuple(query.shape)}")
    batch, _, dims = query.shape
    if ref.dim() != 3 or ref.shape[0] != batch or ref.shape[2] != dims or ref.shape[1] < 1:
        raise ValueError(
            f"ref must have shape (B={batch}, Nr, D={dims}) with Nr >= 1 to match query, got {tuple(ref.shape)}"
        )
    if values.dim() != 3 or values.shape[:2] != ref.shape[:2]:
        raise ValueError(
            f"values must have shape (B={batch}, Nr={ref.shape[1]}, C) to match ref, got {tuple(values.shape)}"
        )
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")


def soft_correspondence(query, ref, values, tau=0.01, squared=False, chunk_size=None):
    """(B, Nq, D), (B, Nr, D), (B, Nr, C) -> (B, Nq, C): softmax(-dist/tau) over ref points, applied to values."""
    _check_inputs(query, ref, values, tau)
    check_chunk_size(chunk_size)
    if chunk_size is None:
        chunk_size = default_chunk_size(ref.shape[0], ref.shape[1], compute_dtype(query, ref, values), ref.device)
    return _SoftCorrespondence.apply(query, ref, values, float(tau), bool(squared), chunk_size)


def warp_by_correspondence(query_map, ref_map, values, tau=0.01, squared=False, chunk_size=None):
    """(B, D, Hq, Wq) query coords, (B, D, Hr, Wr) ref coords, (B, C, Hr, Wr) values -> (B, C, Hq, Wq)."""
    for name, tensor in (("query_map", query_map), ("ref_map", ref_map), ("values", values)):
        if tensor.dim() != 4:
            raise ValueError(f"{name} must have shape (B, D or C, H, W), got {tuple(tensor.shape)}")
    if values.shape[2:] != ref_map.shape[2:]:
        raise ValueError(
            f"values must have shape (B, C, Hr={ref_map.shape[2]}, Wr={ref_map.shape[3]}) to match ref_map, "
            f"got {tuple(values.shape)}"
        )
    batch, _, height, width = query_map.shape
    out = soft_correspondence(
        query_map.flatten(2).transpose(1, 2),
        ref_map.flatten(2).transpose(1, 2),
        values.flatten(2).transpose(1, 2),
        tau=tau,
        squared=squared,
        chunk_size=chunk_size,
    )
    return out.transpose(1, 2).reshape(batch, -1, height, width)


def dense_soft_correspondence(query, ref, values, tau=0.01, squared=False):
    """Reference implementation materialising the full (B, Nq, Nr) matrix via differences (like the authors' code); for tests and benchmarks only."""
    _check_inputs(query, ref, values, tau)
    diff = query[:, :, None, :] - ref[:, None, :, :]
    dist = diff.square().sum(-1) if squared else torch.linalg.vector_norm(diff, dim=-1)
    return torch.softmax(-dist / tau, dim=-1) @ values
