import numpy as np
import pytest
import torch

from coordgan.ops import (blur_padding, make_blur_kernel, upfirdn2d,
                          upsample2d, upsample_blur_padding)


def reference_upfirdn(x, kernel, up, down, pad0, pad1, reflect=False):
    """Loop-based upfirdn on one (H, W) numpy image: insert zeros, pad, convolve, decimate."""
    h, w = x.shape
    up_img = np.zeros((h * up, w * up))
    up_img[::up, ::up] = x
    mode = 'reflect' if reflect else 'constant'
    padded = np.pad(up_img, ((pad0, pad1), (pad0, pad1)), mode=mode)
    kh, kw = kernel.shape
    out_h, out_w = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            acc = 0.0
            for a in range(kh):
                for b in range(kw):
                    # True convolution: the kernel is indexed backwards.
                    acc += padded[i + a, j + b] * kernel[kh - 1 - a, kw - 1 - b]
            out[i, j] = acc
    return out[::down, ::down]


@pytest.mark.parametrize('up,down,pad', [(1, 1, (1, 1)), (2, 1, (2, 1)),
                                         (1, 2, (2, 1)), (1, 2, (1, 0)),
                                         (2, 2, (1, 2))])
def test_upfirdn_matches_loop_reference(up, down, pad):
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    # An asymmetric kernel catches a missing flip.
    kernel = torch.tensor([[1., 2., 0.5], [0., 1., 3.], [2., 1., 1.]],
                          dtype=torch.float64)
    out = upfirdn2d(x, kernel, up=up, down=down, pad=pad)
    for b in range(2):
        for c in range(3):
            ref = reference_upfirdn(x[b, c].numpy(), kernel.numpy(), up, down,
                                    *pad)
            np.testing.assert_allclose(out[b, c].numpy(), ref, atol=1e-10)


def test_reflect_padding_matches_reference():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    kernel = make_blur_kernel([1, 2, 1]).double()
    out = upfirdn2d(x, kernel, down=2, pad=(2, 1), padding_mode='reflect')
    for c in range(2):
        ref = reference_upfirdn(x[0, c].numpy(), kernel.numpy(), 1, 2, 2, 1,
                                reflect=True)
        np.testing.assert_allclose(out[0, c].numpy(), ref, atol=1e-10)


def test_blur_kernel_is_normalised_outer_product():
    k = make_blur_kernel([1, 3, 3, 1], gain=4)
    expected = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64 * 4
    np.testing.assert_allclose(k.numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match='blur taps'):
        make_blur_kernel([[1, 2], [3, 4]])


def test_upsample_doubles_size_and_keeps_constant_images():
    kernel = make_blur_kernel([1, 3, 3, 1], gain=4)
    x = torch.full((1, 1, 8, 8), 3.0)
    out = upsample2d(x, kernel)
    assert out.shape == (1, 1, 16, 16)
    # Away from the zero-padded border a constant stays constant.
    torch.testing.assert_close(out[..., 2:-2, 2:-2],
                               torch.full((1, 1, 12, 12), 3.0))


def test_paddings_give_exact_halving_and_doubling():
    assert blur_padding(4, 3) == (2, 2)  # ((4-2)+(3-1)+1)//2, ((4-2)+(3-1))//2
    assert blur_padding(4, 1) == (1, 1)
    assert blur_padding(3, 3) == (2, 1)
    assert blur_padding(3, 1) == (1, 0)
    assert upsample_blur_padding(4, 3) == (1, 1)
    for taps, k in [(4, 3), (4, 1), (3, 3), (3, 1)]:
        p0, p1 = blur_padding(taps, k)
        h = 16
        blurred = h + p0 + p1 - taps + 1
        assert (blurred - k) // 2 + 1 == h // 2
