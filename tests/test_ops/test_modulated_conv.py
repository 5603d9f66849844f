import pytest
import torch
import torch.nn.functional as F

from coordgan.ops import (canonical_grid, minibatch_stddev, modulated_conv2d,
                          pair_swap)


def per_sample_modulated_conv(x, weight, styles, demodulate, padding,
                              upsample=False):
    """Brute force: build each sample's weight explicitly and convolve it alone."""
    outs = []
    for b in range(x.shape[0]):
        w = weight * styles[b].reshape(1, -1, 1, 1)
        if demodulate:
            norm = torch.sqrt((w**2).sum(dim=(1, 2, 3)) + 1e-8)
            w = w / norm.reshape(-1, 1, 1, 1)
        if upsample:
            outs.append(F.conv_transpose2d(x[b:b + 1], w.transpose(0, 1),
                                           stride=2, padding=padding))
        else:
            outs.append(F.conv2d(x[b:b + 1], w, padding=padding))
    return torch.cat(outs)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('demodulate', [True, False])
@pytest.mark.parametrize('kernel_size', [1, 3])
def test_modulated_conv_equals_per_sample_conv(demodulate, kernel_size,
                                               fused):
    x = torch.randn(3, 5, 9, 9, dtype=torch.float64)
    weight = torch.randn(4, 5, kernel_size, kernel_size, dtype=torch.float64)
    styles = torch.randn(3, 5, dtype=torch.float64)
    pad = kernel_size // 2
    out = modulated_conv2d(x, weight, styles, demodulate, padding=pad,
                           fused=fused)
    ref = per_sample_modulated_conv(x, weight, styles, demodulate, pad)
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize('fused', [True, False])
def test_upsampling_modulated_conv_equals_per_sample_transposed_conv(fused):
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    weight = torch.randn(6, 4, 3, 3, dtype=torch.float64)
    styles = torch.randn(2, 4, dtype=torch.float64)
    out = modulated_conv2d(x, weight, styles, True, upsample=True,
                           fused=fused)
    ref = per_sample_modulated_conv(x, weight, styles, True, 0, upsample=True)
    assert out.shape == (2, 6, 11, 11)
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize('upsample', [False, True])
@pytest.mark.parametrize('fused', [True, False])
def test_modulated_conv_gradients_equal_per_sample_conv(fused, upsample):
    # Training backpropagates through it to the input, the weight and the
    # styles (the mapping net, and the encoder in stage 2).
    def leaves():
        torch.manual_seed(3)
        return [torch.randn(*shape, dtype=torch.float64, requires_grad=True)
                for shape in ((2, 4, 6, 6), (5, 4, 3, 3), (2, 4))]

    pad = 0 if upsample else 1
    grad_out = torch.randn(2, 5, 13, 13) if upsample else torch.randn(
        2, 5, 6, 6)
    got = leaves()
    modulated_conv2d(*got, True, padding=pad, upsample=upsample,
                     fused=fused).backward(grad_out.double())
    ref = leaves()
    per_sample_modulated_conv(*ref, True, pad, upsample).backward(
        grad_out.double())
    for name, a, b in zip(('input', 'weight', 'styles'), got, ref):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


@pytest.mark.parametrize('fused', [True, False])
def test_float16_autocast_with_large_styles_stays_finite_and_right(fused):
    # Mixed precision as AmpOptimWrapper runs it: float32 weights, float16
    # activations and styles (the affine's output), convs in float16, where
    # squares of styles above 256 overflow. The output must not care.
    torch.manual_seed(0)
    x = torch.randn(2, 64, 8, 8)
    weight = torch.randn(32, 64, 3, 3) / 24
    styles = torch.rand(2, 64) * 300 + 100
    ref = per_sample_modulated_conv(x.double(), weight.double(),
                                    styles.double(), True, 1)
    with torch.autocast('cpu', dtype=torch.float16):
        out = modulated_conv2d(x.half(), weight, styles.half(), True,
                               padding=1, fused=fused)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), ref, rtol=0.02, atol=0.02)


def test_demodulated_output_has_unit_weight_norm():
    weight = torch.randn(4, 5, 3, 3)
    styles = torch.randn(1, 5) * 10
    from coordgan.ops import modulate_weight
    w = modulate_weight(weight, styles)
    torch.testing.assert_close(w.pow(2).sum(dim=(2, 3, 4)),
                               torch.ones(1, 4), rtol=1e-4, atol=1e-4)


def test_modulated_conv_rejects_mismatched_styles():
    with pytest.raises(ValueError, match='styles'):
        modulated_conv2d(torch.randn(2, 5, 4, 4), torch.randn(3, 5, 3, 3),
                         torch.randn(2, 4), padding=1)


def test_minibatch_stddev_matches_loop():
    x = torch.randn(8, 6, 4, 4, dtype=torch.float64)
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (8, 7, 4, 4)
    torch.testing.assert_close(out[:, :6], x)
    # Group g holds samples g, g + 2, g + 4, g + 6 (stride B / group).
    for i in range(8):
        members = x[i % 2::2]
        std = torch.sqrt(members.var(dim=0, unbiased=False) + 1e-8).mean()
        torch.testing.assert_close(out[i, 6], torch.full((4, 4), float(std),
                                                         dtype=torch.float64))
    # Smaller batches use the whole batch as one group.
    assert minibatch_stddev(x[:2]).shape == (2, 7, 4, 4)
    with pytest.raises(ValueError, match='divisible'):
        minibatch_stddev(x[:6])


def test_pair_swap_exchanges_consecutive_pairs():
    x = torch.arange(6)
    assert pair_swap(x).tolist() == [1, 0, 3, 2, 5, 4]
    with pytest.raises(ValueError, match='even batch'):
        pair_swap(torch.arange(3))


def test_canonical_grid_layout():
    grid = canonical_grid(5)
    assert grid.shape == (1, 2, 5, 5)
    lin = torch.linspace(-1, 1, 5)
    torch.testing.assert_close(grid[0, 0, 2], lin)  # x varies along width
    torch.testing.assert_close(grid[0, 1, :, 3], lin)  # y along height
    assert grid.min() == -1 and grid.max() == 1
