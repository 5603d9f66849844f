import pytest
import torch

from coordgan.ops import canonical_grid, random_crops


def test_crops_cover_the_sampled_fraction_inside_the_image():
    img = canonical_grid(64).repeat(3, 1, 1, 1)  # pixel value = its coordinate
    gen = torch.Generator().manual_seed(0)
    crops = random_crops(img, 16, out_size=8, side_range=(1 / 8, 1 / 4),
                         flip=False, generator=gen)
    assert crops.shape == (3, 16, 2, 8, 8)
    x_extent = crops[:, :, 0].amax(dim=(2, 3)) - crops[:, :, 0].amin((2, 3))
    y_extent = crops[:, :, 1].amax(dim=(2, 3)) - crops[:, :, 1].amin((2, 3))
    # A crop spanning fraction f of the side covers 2f of [-1, 1], minus
    # one output pixel (sample centres).
    for extent in (x_extent, y_extent):
        assert extent.min() > 2 * (1 / 8) * (7 / 8) - 1e-4
        assert extent.max() < 2 * (1 / 4) + 1e-4
    assert crops.abs().max() <= 1
    # Unflipped crops increase left to right.
    assert (crops[:, :, 0, :, -1] > crops[:, :, 0, :, 0]).all()


def test_flip_mirrors_some_crops_and_is_differentiable():
    img = canonical_grid(32).repeat(2, 1, 1, 1).requires_grad_()
    crops = random_crops(img, 64, out_size=4, flip=True)
    mirrored = crops[:, :, 0, :, -1] < crops[:, :, 0, :, 0]
    assert 0 < mirrored.float().mean() < 1
    crops.sum().backward()
    assert img.grad.abs().sum() > 0


def test_seeded_crops_repeat():
    img = torch.randn(2, 3, 32, 32)
    a = random_crops(img, 4, generator=torch.Generator().manual_seed(1))
    b = random_crops(img, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


def test_invalid_side_range():
    with pytest.raises(ValueError, match='side_range'):
        random_crops(torch.randn(1, 3, 8, 8), 2, side_range=(0.5, 0.25))
