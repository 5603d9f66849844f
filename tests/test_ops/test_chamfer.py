import pytest
import torch

from coordgan.ops.chamfer import chamfer_distance, dense_chamfer_distance


def _points(batch, count, dims=2, dtype=torch.float64, seed=0):
    """-> (batch, count, dims) points in [-1, 1] requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, count, dims, generator=gen, dtype=dtype) * 2 - 1).requires_grad_()


def _value_and_grads(fn, a, b, **kwargs):
    """-> fn(a, b) and its gradients w.r.t. a and b."""
    value = fn(a, b, **kwargs)
    return value, torch.autograd.grad(value, (a, b))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("b_batch", [3, 1])
@pytest.mark.parametrize("chunk_size", [1, 7, 100, None])
def test_matches_dense_values_and_grads(dtype, squared, b_batch, chunk_size):
    a = _points(3, 41, dtype=dtype, seed=0)
    b = _points(b_batch, 29, dtype=dtype, seed=1)
    value, grads = _value_and_grads(chamfer_distance, a, b, squared=squared, chunk_size=chunk_size)
    ref_value, ref_grads = _value_and_grads(dense_chamfer_distance, a, b, squared=squared)
    assert value.shape == () and value.dtype == dtype
    torch.testing.assert_close(value, ref_value, rtol=1e-5, atol=1e-6)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)


def test_other_dims():
    a, b = _points(2, 13, dims=5, seed=2), _points(2, 17, dims=5, seed=3)
    torch.testing.assert_close(chamfer_distance(a, b, chunk_size=4), dense_chamfer_distance(a, b))


@pytest.mark.parametrize("squared", [True, False])
def test_identical_point_sets_give_zero(squared):
    a = _points(2, 50)
    shuffled = a.detach()[:, torch.randperm(50)].requires_grad_()
    value, grads = _value_and_grads(chamfer_distance, a, shuffled, squared=squared, chunk_size=9)
    assert value.item() == 0.0
    for grad in grads:
        assert torch.isfinite(grad).all() and (grad == 0).all()


def test_is_symmetric():
    a, b = _points(2, 20, seed=4), _points(2, 30, seed=5)
    torch.testing.assert_close(chamfer_distance(a, b), chamfer_distance(b, a))


def test_no_grad():
    with torch.no_grad():
        value = chamfer_distance(_points(1, 10, seed=6), _points(1, 12, seed=7))
    assert value.grad_fn is None


@pytest.mark.parametrize(
    "a_shape, b_shape, match",
    [
        ((10, 2), (1, 10, 2), "a"),
        ((2, 0, 2), (2, 10, 2), "a"),
        ((2, 10, 2), (3, 10, 2), "b"),
        ((2, 10, 2), (2, 10, 3), "b"),
        ((2, 10, 2), (10, 2), "b"),
        ((2, 10, 2), (2, 0, 2), "b"),
    ],
)
def test_shape_errors(a_shape, b_shape, match):
    a, b = torch.zeros(a_shape), torch.zeros(b_shape)
    with pytest.raises(ValueError, match=rf"^{match} must"):
        chamfer_distance(a, b)
    with pytest.raises(ValueError, match=rf"^{match} must"):
        dense_chamfer_distance(a, b)


def test_chunk_size_error():
    with pytest.raises(ValueError, match="chunk_size"):
        chamfer_distance(_points(1, 4), _points(1, 4), chunk_size=0)
