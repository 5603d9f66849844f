"""The canonical grid and its resampling at other pixel counts."""
import pytest
import torch

from coordgan.ops import canonical_grid, resampled_grid


def test_resampled_grid_at_the_grid_size_is_the_grid():
    assert torch.equal(resampled_grid(8, 8), canonical_grid(8))


@pytest.mark.parametrize('factor', [2, 4])
def test_finer_pixels_average_to_the_coarse_points(factor):
    # A coarse pixel covers `factor` x `factor` fine pixels; their centres
    # average to the coarse pixel's centre, which is where the coarse grid
    # point lies (-1 + 2 i / (g - 1)).
    g = 5
    fine = resampled_grid(g, g * factor, dtype=torch.float64)
    blocks = fine.reshape(1, 2, g, factor, g, factor).mean((3, 5))
    expected = torch.tensor([-1 + 2 * i / (g - 1) for i in range(g)],
                            dtype=torch.float64)
    torch.testing.assert_close(blocks[0, 0], expected[None].expand(g, -1))
    torch.testing.assert_close(blocks[0, 1], expected[:, None].expand(-1, g))
    # Even spacing: one fine pixel is 1 / factor of a grid spacing.
    steps = fine[0, 0, 0, 1:] - fine[0, 0, 0, :-1]
    torch.testing.assert_close(
        steps, torch.full_like(steps, 2 / (g - 1) / factor))


def test_resampled_grid_by_hand():
    # 2 grid points (x = -1, 1) seen at 4 pixels: centres at grid positions
    # -0.25, 0.25, 0.75, 1.25, i.e. x = -1.5, -0.5, 0.5, 1.5.
    x = resampled_grid(2, 4)[0, 0, 0]
    torch.testing.assert_close(x, torch.tensor([-1.5, -0.5, 0.5, 1.5]))


def test_resampled_grid_rejects_bad_sizes():
    with pytest.raises(ValueError, match='grid_size >= 2'):
        resampled_grid(1, 4)
