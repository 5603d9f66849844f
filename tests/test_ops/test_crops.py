import math

import pytest
import torch

from coordgan.ops import canonical_grid, random_crops


def bilinear(img, x, y, padding):
    """img (C, H, W) at normalised (x, y) (align_corners=False), one point, by hand.

    ``padding`` 'zeros': taps outside the image read 0; 'border': the
    position is clamped to the outer pixel centres first.
    """
    c, h, w = img.shape
    px = ((x + 1) * w - 1) / 2  # pixel i has its centre at i
    py = ((y + 1) * h - 1) / 2
    if padding == 'border':
        px = min(max(px, 0.0), w - 1.0)
        py = min(max(py, 0.0), h - 1.0)
    x0, y0 = math.floor(px), math.floor(py)
    out = torch.zeros(c, dtype=img.dtype)
    for yi, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
        for xi, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= yi < h and 0 <= xi < w:
                out += wy * wx * img[:, yi, xi]
    return out


def draws(seed, n, side, flip=True):
    """The sides, offsets and mirror flags random_crops draws, in its documented order."""
    rng = torch.Generator().manual_seed(seed)
    sides = side[0] + (side[1] - side[0]) * torch.rand(n, 2, generator=rng)
    offsets = (torch.rand(n, 2, generator=rng) * 2 - 1) * (1 - sides)
    mirrored = (torch.rand(n, generator=rng) < 0.5 if flip else
                torch.zeros(n, dtype=torch.bool))
    return sides.double(), offsets.double(), mirrored


def brute_force_crops(img, num_crops, size, side, seed, positions, padding):
    """Crops at x_j = sign * base_j * s_x + o_x, y_i = base_i * s_y + o_y."""
    b, c = img.shape[:2]
    sides, offsets, mirrored = draws(seed, b * num_crops, side)
    out = torch.zeros(b, num_crops, c, size, size, dtype=img.dtype)
    for k in range(b * num_crops):
        sign = -1.0 if mirrored[k] else 1.0
        for i in range(size):
            for j in range(size):
                x = sign * positions[j] * sides[k, 0] + offsets[k, 0]
                y = positions[i] * sides[k, 1] + offsets[k, 1]
                out[k // num_crops, k % num_crops, :, i, j] = bilinear(
                    img[k // num_crops], float(x), float(y), padding)
    return out


def authors_positions(n):
    return [-1 + 2 * j / (n - 1) for j in range(n)]  # both ends included


def affine_positions(n):
    return [(2 * j + 1) / n - 1 for j in range(n)]  # pixel centres


@pytest.mark.parametrize('side', [(0.25, 0.25), (0.3, 0.6), (1.0, 1.0)])
def test_authors_crops_match_brute_force_bilinear(side):
    img = torch.randn(2, 3, 12, 10, dtype=torch.float64)  # H != W on purpose
    crops = random_crops(img, 3, out_size=5, side_range=side,
                         generator=torch.Generator().manual_seed(7))
    expected = brute_force_crops(img, 3, 5, side, 7, authors_positions(5),
                                 'zeros')
    assert crops.shape == (2, 3, 3, 5, 5)
    torch.testing.assert_close(crops, expected, rtol=1e-10, atol=1e-10)


def test_crop_past_the_border_reads_zeros():
    # Side 1: offset 0 and the outer samples sit on the image's outer edge,
    # half a pixel past the outer pixel centres, so they blend with zeros.
    img = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    crops = random_crops(img, 2, out_size=4, side_range=(1, 1), flip=False)
    inner = crops[..., 1:-1, 1:-1]
    torch.testing.assert_close(inner, torch.ones_like(inner))
    torch.testing.assert_close(crops[..., 0, 1:-1],
                               torch.full_like(crops[..., 0, 1:-1], 0.5))
    torch.testing.assert_close(crops[..., 0, 0],
                               torch.full_like(crops[..., 0, 0], 0.25))
    # The earlier sampler clamps to the border instead.
    old = random_crops(img, 2, out_size=4, side_range=(1, 1), flip=False,
                       sampling='affine')
    torch.testing.assert_close(old, torch.ones_like(old))


def test_flip_mirrors_the_same_crop():
    img = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    flipped = random_crops(img, 32, out_size=6,
                           generator=torch.Generator().manual_seed(3))
    plain = random_crops(img, 32, out_size=6, flip=False,
                         generator=torch.Generator().manual_seed(3))
    mirrored = draws(3, 64, (1 / 8, 1 / 4))[2].reshape(2, 32)
    assert 0 < mirrored.float().mean() < 1
    torch.testing.assert_close(flipped[mirrored], plain[mirrored].flip(-1))
    torch.testing.assert_close(flipped[~mirrored], plain[~mirrored])


@pytest.mark.parametrize('side', [(0.25, 0.25), (0.3, 0.6)])
def test_affine_sampling_keeps_the_earlier_positions(side):
    img = torch.randn(2, 3, 12, 10, dtype=torch.float64)
    crops = random_crops(img, 3, out_size=5, side_range=side,
                         generator=torch.Generator().manual_seed(7),
                         sampling='affine')
    expected = brute_force_crops(img, 3, 5, side, 7, affine_positions(5),
                                 'border')
    torch.testing.assert_close(crops, expected, rtol=1e-10, atol=1e-10)


def test_crops_cover_the_sampled_fraction_inside_the_image():
    img = canonical_grid(64).repeat(3, 1, 1, 1)  # pixel value = its coordinate
    crops = random_crops(img, 16, out_size=8, side_range=(1 / 8, 1 / 4),
                         flip=False,
                         generator=torch.Generator().manual_seed(0))
    assert crops.shape == (3, 16, 2, 8, 8)
    x_extent = crops[:, :, 0].amax(dim=(2, 3)) - crops[:, :, 0].amin((2, 3))
    y_extent = crops[:, :, 1].amax(dim=(2, 3)) - crops[:, :, 1].amin((2, 3))
    # A crop spanning fraction f covers 2f of [-1, 1] from edge to edge
    # sample; pixel k of the grid holds -1 + 2k/63, not the coordinate of
    # its centre -1 + (2k + 1)/64, hence the factor 64/63.
    for extent in (x_extent, y_extent):
        assert extent.min() > 2 * (1 / 8) * 64 / 63 - 1e-4
        assert extent.max() < 2 * (1 / 4) * 64 / 63 + 1e-4
    # Unflipped crops increase left to right.
    assert (crops[:, :, 0, :, -1] > crops[:, :, 0, :, 0]).all()


def test_crops_are_differentiable():
    img = canonical_grid(32).repeat(2, 1, 1, 1).requires_grad_()
    crops = random_crops(img, 64, out_size=4, flip=True)
    crops.sum().backward()
    assert img.grad.abs().sum() > 0


def test_seeded_crops_repeat():
    img = torch.randn(2, 3, 32, 32)
    for sampling in ('authors', 'affine'):
        a = random_crops(img, 4, generator=torch.Generator().manual_seed(1),
                         sampling=sampling)
        b = random_crops(img, 4, generator=torch.Generator().manual_seed(1),
                         sampling=sampling)
        torch.testing.assert_close(a, b)


def test_invalid_arguments():
    with pytest.raises(ValueError, match='side_range'):
        random_crops(torch.randn(1, 3, 8, 8), 2, side_range=(0.5, 0.25))
    with pytest.raises(ValueError, match="sampling must be one of.*'affine'"):
        random_crops(torch.randn(1, 3, 8, 8), 2, sampling='grid')
