import pytest
import torch

from coordgan.ops.soft_correspondence import (
    dense_soft_correspondence,
    soft_correspondence,
    warp_by_correspondence,
)

B, NQ, NR, D, C = 2, 37, 53, 2, 3


def _inputs(dtype, seed=0, nq=NQ, nr=NR, dims=D, channels=C, scale=1.0):
    """-> query (B, nq, dims), ref (B, nr, dims) in [-scale, scale] and values (B, nr, channels), all requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    query = (torch.rand(B, nq, dims, generator=gen, dtype=dtype) * 2 - 1) * scale
    ref = (torch.rand(B, nr, dims, generator=gen, dtype=dtype) * 2 - 1) * scale
    values = torch.randn(B, nr, channels, generator=gen, dtype=dtype)
    return [t.requires_grad_() for t in (query, ref, values)]


def _output_and_grads(fn, inputs, **kwargs):
    """-> fn's output and the gradients of a weighted sum of it w.r.t. every input."""
    out = fn(*inputs, **kwargs)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    grads = torch.autograd.grad((out * weight).sum(), inputs)
    return out, grads


def _grid(height, width, dtype=torch.float64):
    """-> (1, 2, height, width) map of (x, y) pixel-centre coordinates in [-1, 1]."""
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, height, dtype=dtype), torch.linspace(-1, 1, width, dtype=dtype), indexing="ij"
    )
    return torch.stack((xs, ys)).unsqueeze(0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("tau", [0.01, 0.5])
@pytest.mark.parametrize("chunk_size", [1, 10, NQ, 64, None])
def test_matches_dense_values_and_grads(dtype, squared, tau, chunk_size):
    inputs = _inputs(dtype)
    out, grads = _output_and_grads(soft_correspondence, inputs, tau=tau, squared=squared, chunk_size=chunk_size)
    ref_out, ref_grads = _output_and_grads(dense_soft_correspondence, inputs, tau=tau, squared=squared)
    assert out.shape == (B, NQ, C) and out.dtype == dtype
    # Coordinate gradients scale with 1/tau, so compare them relative to their magnitude.
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    for grad, ref_grad in zip(grads, ref_grads):
        scale = ref_grad.abs().max().clamp_min(1.0)
        torch.testing.assert_close(grad / scale, ref_grad / scale, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("tau", [0.01, 0.5])
def test_gradcheck(squared, tau):
    # Shrinking the coordinates with tau keeps several ref points in each softmax, so every
    # gradient term is exercised instead of a near one-hot assignment.
    inputs = _inputs(torch.float64, seed=3, nq=4, nr=5, channels=2, scale=min(1.0, 5 * tau))
    assert torch.autograd.gradcheck(
        lambda q, r, v: soft_correspondence(q, r, v, tau=tau, squared=squared, chunk_size=3), inputs
    )


@pytest.mark.parametrize(
    "needs", [(True, False, False), (False, True, False), (False, False, True), (True, True, False)]
)
def test_partial_grads(needs):
    query, ref, values = (t.detach().requires_grad_(n) for t, n in zip(_inputs(torch.float64), needs))
    soft_correspondence(query, ref, values, chunk_size=7).sum().backward()
    dense_inputs = [t.detach().requires_grad_(n) for t, n in zip((query, ref, values), needs)]
    dense_soft_correspondence(*dense_inputs).sum().backward()
    for tensor, dense_tensor, need in zip((query, ref, values), dense_inputs, needs):
        assert (tensor.grad is not None) == need
        if need:
            torch.testing.assert_close(tensor.grad, dense_tensor.grad)


def test_coincident_points_have_zero_norm_subgradient():
    query, ref, values = _inputs(torch.float64)
    ref = torch.cat([query[:, :5], ref], dim=1).detach().requires_grad_()
    values = torch.cat([values[:, :5], values], dim=1).detach().requires_grad_()
    _, grads = _output_and_grads(soft_correspondence, [query, ref, values], tau=0.5, chunk_size=8)
    _, ref_grads = _output_and_grads(dense_soft_correspondence, [query, ref, values], tau=0.5)
    for grad, ref_grad in zip(grads, ref_grads):
        assert torch.isfinite(grad).all()
        torch.testing.assert_close(grad, ref_grad)


def test_saves_only_inputs_for_backward():
    query, ref, values = _inputs(torch.float32, nq=200, nr=300)
    input_numel = query.numel() + ref.numel() + values.numel()

    def saved_numel(build_graph):
        """-> total numel of the tensors autograd saves while build_graph() runs."""
        sizes = []

        def pack(tensor):
            sizes.append(tensor.numel())
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            build_graph()
        return sum(sizes)

    assert saved_numel(lambda: soft_correspondence(query, ref, values, chunk_size=16).sum()) <= input_numel
    # Sanity check that the hook does see the dense version's (B, Nq, Nr) matrices.
    assert saved_numel(lambda: dense_soft_correspondence(query, ref, values).sum()) >= B * 200 * 300


def test_no_grad_builds_no_graph():
    query, ref, values = _inputs(torch.float32)
    with torch.no_grad():
        out = soft_correspondence(query, ref, values)
    assert out.grad_fn is None and not out.requires_grad


def test_half_inputs_computed_in_float32():
    query, ref, values = (t.detach() for t in _inputs(torch.float64))
    out = soft_correspondence(query.bfloat16(), ref.bfloat16(), values.bfloat16(), tau=0.5)
    assert out.dtype == torch.bfloat16
    expected = dense_soft_correspondence(
        query.bfloat16().double(), ref.bfloat16().double(), values.bfloat16().double(), tau=0.5
    )
    torch.testing.assert_close(out.double(), expected, rtol=1e-2, atol=1e-2)


def test_autocast_keeps_input_dtype_and_grads():
    query, ref, values = _inputs(torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, grads = _output_and_grads(soft_correspondence, [query, ref, values], tau=0.5)
    ref_out, ref_grads = _output_and_grads(dense_soft_correspondence, [query, ref, values], tau=0.5)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-5)


def test_other_dims_and_channels():
    inputs = _inputs(torch.float64, nq=11, nr=6, dims=5, channels=1)
    out, grads = _output_and_grads(soft_correspondence, inputs, tau=0.3, chunk_size=4)
    ref_out, ref_grads = _output_and_grads(dense_soft_correspondence, inputs, tau=0.3)
    torch.testing.assert_close(out, ref_out)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad)


def test_warp_identity_returns_values():
    grid = _grid(6, 8)
    values = torch.randn(1, 3, 6, 8, dtype=torch.float64)
    torch.testing.assert_close(warp_by_correspondence(grid, grid, values, tau=1e-3), values)


def test_warp_shifted_map_copies_shifted_values():
    grid = _grid(6, 8)
    step = grid[0, 0, 0, 1] - grid[0, 0, 0, 0]
    # Each query pixel holds the coordinate of its right-hand neighbour in ref.
    query = grid.clone()
    query[:, 0] += step
    values = torch.randn(1, 3, 6, 8, dtype=torch.float64)
    out = warp_by_correspondence(query, grid, values, tau=1e-3, chunk_size=5)
    torch.testing.assert_close(out[..., :-1], values[..., 1:])


def test_warp_matches_flattened_op_with_different_sizes():
    gen = torch.Generator().manual_seed(4)
    query_map = torch.rand(2, 2, 3, 5, generator=gen, dtype=torch.float64)
    ref_map = torch.rand(2, 2, 4, 6, generator=gen, dtype=torch.float64)
    values = torch.randn(2, 3, 4, 6, generator=gen, dtype=torch.float64)
    out = warp_by_correspondence(query_map, ref_map, values, tau=0.1)
    expected = dense_soft_correspondence(
        query_map.flatten(2).mT, ref_map.flatten(2).mT, values.flatten(2).mT, tau=0.1
    ).mT.reshape(2, 3, 3, 5)
    assert out.shape == (2, 3, 3, 5)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize(
    "shapes, match",
    [
        (((B, NQ), (B, NR, D), (B, NR, C)), "query"),
        (((B, NQ, D), (B + 1, NR, D), (B + 1, NR, C)), "ref"),
        (((B, NQ, D), (B, NR, D + 1), (B, NR, C)), "ref"),
        (((B, NQ, D), (B, NR, D), (B, NR + 1, C)), "values"),
        (((B, NQ, D), (B, NR, D), (B + 1, NR, C)), "values"),
    ],
)
def test_shape_errors(shapes, match):
    tensors = [torch.zeros(shape) for shape in shapes]
    with pytest.raises(ValueError, match=rf"^{match} must"):
        soft_correspondence(*tensors)
    with pytest.raises(ValueError, match=rf"^{match} must"):
        dense_soft_correspondence(*tensors)


@pytest.mark.parametrize(
    "kwargs, match", [({"tau": 0.0}, "tau"), ({"tau": -1.0}, "tau"), ({"chunk_size": 0}, "chunk_size")]
)
def test_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        soft_correspondence(*_inputs(torch.float32), **kwargs)


def test_warp_shape_errors():
    grid = _grid(4, 4)
    with pytest.raises(ValueError, match="values"):
        warp_by_correspondence(grid, grid, torch.zeros(1, 3, 4, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="query_map"):
        warp_by_correspondence(grid[0], grid, torch.zeros(1, 3, 4, 4, dtype=torch.float64))


def test_float32_coordinate_grads_match_float64_on_nearby_grids():
    # Warp-loss inputs: two slightly perturbed 64x64 canonical grids, so every query has its
    # softmax mass on ref points ~0.03 away while the coordinates themselves are ~1. Expanding
    # sum_k M_ik (q_i - r_k) as q_i sum_k M_ik - sum_k M_ik r_k loses digits to cancellation
    # there: an error of 4.3e-5 of the largest gradient here (5e-4 at 128x128), against 6e-7
    # when the differences are formed first.
    size, tau = 64, 0.01
    gen = torch.Generator().manual_seed(0)
    grid = _grid(size, size).flatten(2).mT
    query = grid + 0.02 * torch.randn(grid.shape, generator=gen, dtype=torch.float64)
    ref = grid + 0.02 * torch.randn(grid.shape, generator=gen, dtype=torch.float64)
    image = torch.rand(1, size * size, 3, generator=gen, dtype=torch.float64)
    weight = torch.randn(1, size * size, 3, generator=gen, dtype=torch.float64)
    # Rounding the inputs to float32 first leaves only the arithmetic's error to measure, not
    # the (legitimate) sensitivity of a 1/tau^2-scaled gradient to the inputs' own rounding.
    query, ref, image = (t.float() for t in (query, ref, image))

    inputs = [t.clone().requires_grad_() for t in (query, ref, image)]
    out = soft_correspondence(*inputs, tau=tau)
    grad_q, grad_r = torch.autograd.grad((out * weight.float()).sum(), inputs[:2])

    # Brute-force float64 reference: the loss is a sum over query rows, so the dense formula
    # can run on blocks of rows (bounded memory), summing each block's gradient w.r.t. ref.
    query64, ref64, image64 = (t.double() for t in (query, ref, image))
    ref64.requires_grad_()
    expected_q, expected_r = torch.empty_like(query64), torch.zeros_like(ref64)
    for start in range(0, size * size, 512):
        rows = slice(start, start + 512)
        block = query64[:, rows].clone().requires_grad_()
        block_out = dense_soft_correspondence(block, ref64, image64, tau=tau)
        block_grad_q, block_grad_r = torch.autograd.grad((block_out * weight[:, rows]).sum(), (block, ref64))
        expected_q[:, rows] = block_grad_q
        expected_r += block_grad_r

    for name, grad, expected in (("query", grad_q, expected_q), ("ref", grad_r, expected_r)):
        rel_err = ((grad.double() - expected).abs().max() / expected.abs().max()).item()
        assert rel_err < 5e-6, f"float32 {name} gradient off by {rel_err:.2e} of its largest entry"
