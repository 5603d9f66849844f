"""TPS and STN warpers against brute-force references written out point by point."""
import copy
import math

import numpy as np
import pytest
import torch

from coordgan.models import STNWarper, TPSWarper
from coordgan.ops import canonical_grid
from coordgan.registry import GENERATORS, WARPERS
from tiny_configs import TINY_KWARGS

STYLE = 8
PARAMETRIC = [
    dict(type='TPSWarper'),
    dict(type='TPSWarper', control_grid=(3, 5), hidden_channels=()),
    dict(type='STNWarper'),
    dict(type='STNWarper', mode='similarity'),
    dict(type='STNWarper', mode='translation', hidden_channels=(4, 4)),
]


def build(**cfg):
    return WARPERS.build(dict(cfg, style_dim=STYLE))


def rect_grid(rows, cols):
    """(1, 2, rows, cols) grid spanning [-1, 1]^2, channel 0 = x; H != W catches transposed reshapes."""
    grid = torch.empty(1, 2, rows, cols)
    for r in range(rows):
        for c in range(cols):
            grid[0, 0, r, c] = -1 + 2 * c / (cols - 1)
            grid[0, 1, r, c] = -1 + 2 * r / (rows - 1)
    return grid


def set_head_output(warper, values):
    """Make the head return ``values`` for every w_s: zero last weight, bias = values."""
    last = warper.head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.as_tensor(values, dtype=torch.float32).flatten())


def apply_affine_loop(matrix, grid):
    """x' = a x + b y + c, y' = d x + e y + f, clipped to [-1, 1], one point at a time."""
    (a, b, c), (d, e, f) = matrix
    out = np.empty(grid.shape[1:], dtype=np.float64)
    for i in range(grid.shape[2]):
        for j in range(grid.shape[3]):
            x, y = float(grid[0, 0, i, j]), float(grid[0, 1, i, j])
            out[0, i, j] = min(1.0, max(-1.0, a * x + b * y + c))
            out[1, i, j] = min(1.0, max(-1.0, d * x + e * y + f))
    return out


def brute_force_tps(points, offsets, grid):
    """Numpy TPS through ``offsets`` at ``points`` (lists of (x, y)), added to each grid point and clipped."""
    k = len(points)

    def u(p, q):
        r2 = (p[0] - q[0])**2 + (p[1] - q[1])**2
        return 0.0 if r2 == 0 else r2 * math.log(r2)

    system = np.zeros((k + 3, k + 3))
    for i in range(k):
        for j in range(k):
            system[i, j] = u(points[i], points[j])
        system[i, k:] = system[k:, i] = (1.0, points[i][0], points[i][1])
    rhs = np.zeros((k + 3, 2))
    rhs[:k] = offsets
    coef = np.linalg.solve(system, rhs)
    out = np.empty(grid.shape[1:], dtype=np.float64)
    for i in range(grid.shape[2]):
        for j in range(grid.shape[3]):
            q = (float(grid[0, 0, i, j]), float(grid[0, 1, i, j]))
            for ch in range(2):
                value = coef[k, ch] + coef[k + 1, ch] * q[0] + coef[
                    k + 2, ch] * q[1]
                value += sum(coef[n, ch] * u(q, points[n]) for n in range(k))
                out[ch, i, j] = min(1.0, max(-1.0, q[ch] + value))
    return out


def control_points(rows, cols):
    return [(-1 + 2 * c / (cols - 1), -1 + 2 * r / (rows - 1))
            for r in range(rows) for c in range(cols)]


def close(actual, expected, atol=1e-5):
    torch.testing.assert_close(actual[0].double(), torch.from_numpy(expected),
                               rtol=0, atol=atol)


@pytest.mark.parametrize('cfg', PARAMETRIC, ids=str)
def test_identity_at_init_exactly(cfg):
    warper = build(**cfg)
    w_s = 10 * torch.randn(3, STYLE)
    for grid in (canonical_grid(16), rect_grid(5, 7),
                 canonical_grid(6).repeat(3, 1, 1, 1)):
        out = warper(w_s, grid)
        assert out.shape == (3, 2) + grid.shape[-2:]
        assert torch.equal(out, grid.expand(3, -1, -1, -1))


@pytest.mark.parametrize('cfg', PARAMETRIC, ids=str)
def test_init_std_starts_each_code_at_its_own_map_near_the_identity(cfg):
    torch.manual_seed(0)
    warper = build(**cfg, init_std=1e-3)
    last = warper.head[-1]
    assert torch.equal(last.bias, torch.zeros_like(last.bias))
    assert 0.5e-3 < last.weight.std() < 2e-3
    grid = canonical_grid(8)
    w_s = torch.randn(4, STYLE)
    out = warper(w_s, grid)
    moved = (out - grid).abs()
    # Every code moves the grid, a little, and no two codes alike (unless
    # the hidden layers map them to the same features: a tiny ReLU head
    # can, for two codes that switch every unit off).
    assert (moved.flatten(1).max(1).values > 0).all()
    assert moved.max() < 0.1
    features = warper.head[:-1](w_s)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)
             if not torch.equal(features[i], features[j])]
    assert len(pairs) >= 3
    assert all(not torch.equal(out[i], out[j]) for i, j in pairs)
    with pytest.raises(ValueError, match='init_std'):
        build(**cfg, init_std=-1.0)


def test_stn_affine_reproduces_the_matrix():
    warper = build(type='STNWarper')
    grid = rect_grid(6, 9)
    for matrix in ([[0.8, 0.1, 0.05], [-0.15, 0.7, -0.1]],
                   # Leaves the square: the reference clips too.
                   [[1.3, -0.4, 0.2], [0.5, 0.9, 0.3]]):
        set_head_output(warper, np.array(matrix) - np.eye(2, 3))
        close(warper(torch.randn(2, STYLE), grid),
              apply_affine_loop(matrix, grid))


def test_stn_similarity_and_translation_modes():
    grid = rect_grid(7, 5)
    log_s, angle, tx, ty = math.log(0.7), 0.3, 0.1, -0.05
    warper = build(type='STNWarper', mode='similarity')
    set_head_output(warper, [log_s, angle, tx, ty])
    s = 0.7
    matrix = [[s * math.cos(angle), -s * math.sin(angle), tx],
              [s * math.sin(angle), s * math.cos(angle), ty]]
    close(warper(torch.randn(2, STYLE), grid), apply_affine_loop(matrix, grid))
    # A quarter turn takes +x to +y (y points down the rows).
    set_head_output(warper, [0.0, math.pi / 2, 0.0, 0.0])
    point = torch.tensor([0.5, 0.0]).view(1, 2, 1, 1)
    torch.testing.assert_close(
        warper(torch.randn(1, STYLE), point).flatten(), torch.tensor([0., .5]))

    warper = build(type='STNWarper', mode='translation')
    set_head_output(warper, [0.1, -0.2])
    close(warper(torch.randn(2, STYLE), grid),
          apply_affine_loop([[1, 0, 0.1], [0, 1, -0.2]], grid))


def test_stn_applies_each_samples_own_matrix():
    warper = build(type='STNWarper')
    with torch.no_grad():
        warper.head[-1].weight.normal_(std=0.05)
    w_s, grid = torch.randn(3, STYLE), rect_grid(4, 6)
    out, theta = warper(w_s, grid), warper.theta(w_s)
    assert not torch.allclose(theta[0], theta[1])
    for b in range(3):
        torch.testing.assert_close(out[b:b + 1].double(), torch.from_numpy(
            apply_affine_loop(theta[b].tolist(), grid))[None], rtol=0,
            atol=1e-6)


def test_tps_interpolates_the_offsets_at_the_control_points():
    rows, cols = 3, 4
    warper = build(type='TPSWarper', control_grid=(rows, cols))
    points = control_points(rows, cols)
    # Inward at the border so no target leaves the square (no clipping).
    rng = np.random.default_rng(0)
    offsets = [(-0.25 * x + rng.uniform(-0.1, 0.1),
                -0.25 * y + rng.uniform(-0.1, 0.1)) for x, y in points]
    set_head_output(warper, offsets)
    out = warper(torch.randn(2, STYLE), rect_grid(rows, cols))
    expected = np.empty((2, rows, cols))
    for r in range(rows):
        for c in range(cols):
            x, y = points[r * cols + c]
            dx, dy = offsets[r * cols + c]
            expected[:, r, c] = (x + dx, y + dy)
    close(out, expected)
    close(out[1:], expected)


def test_tps_reproduces_an_affine_map_everywhere():
    matrix = [[0.8, 0.15, -0.05], [-0.1, 0.75, 0.1]]
    warper = build(type='TPSWarper', control_grid=4)
    offsets = [(matrix[0][0] * x + matrix[0][1] * y + matrix[0][2] - x,
                matrix[1][0] * x + matrix[1][1] * y + matrix[1][2] - y)
               for x, y in control_points(4, 4)]
    set_head_output(warper, offsets)
    grid = rect_grid(9, 11)
    close(warper(torch.randn(2, STYLE), grid), apply_affine_loop(matrix, grid))


@pytest.mark.parametrize('control_grid', [(4, 4), (3, 5)])
def test_tps_equals_a_brute_force_spline_between_the_control_points(
        control_grid):
    warper = build(type='TPSWarper', control_grid=control_grid)
    points = control_points(*control_grid)
    rng = np.random.default_rng(1)
    offsets = rng.uniform(-0.3, 0.3, size=(len(points), 2))
    set_head_output(warper, offsets)
    grid = rect_grid(7, 10)  # mostly between the control points
    expected = brute_force_tps(points, offsets, grid)
    close(warper(torch.randn(2, STYLE), grid), expected)
    # Not an affine map in disguise: the bending part matters here.
    residual = expected - apply_affine_loop(
        [[1, 0, 0], [0, 1, 0]], grid)
    assert np.abs(residual).max() > 0.1


@pytest.mark.parametrize('cfg', PARAMETRIC, ids=str)
def test_gradient_flows_from_the_map_to_w_s(cfg):
    warper = build(**cfg)
    w_s = torch.randn(2, STYLE, requires_grad=True)
    # At the identity start only the zeroed last layer gets a gradient;
    # it must, or training could never leave the identity.
    warper(w_s, canonical_grid(8)).square().sum().backward()
    assert warper.head[-1].weight.grad.abs().sum() > 0
    with torch.no_grad():
        warper.head[-1].weight.normal_(std=0.01)
    w_s.grad = None
    warper(w_s, canonical_grid(8)).square().sum().backward()
    assert torch.isfinite(w_s.grad).all() and w_s.grad.abs().sum() > 0
    # Analytic gradients agree with finite differences (small w_s keeps
    # every point off the clamp's kink).
    double = copy.deepcopy(warper).double()
    grid = canonical_grid(5, dtype=torch.float64) * 0.9
    w_small = (0.1 * torch.randn(2, STYLE, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda w: double(w, grid), (w_small, ))


@pytest.mark.parametrize('cfg', PARAMETRIC, ids=str)
def test_generator_with_the_warper_runs_and_starts_at_the_identity(cfg):
    kwargs = dict(TINY_KWARGS['CoordGANGenerator'], warper=cfg)
    gen = GENERATORS.build(dict(type='CoordGANGenerator', **kwargs))
    assert type(gen.warper) is {'TPSWarper': TPSWarper,
                                'STNWarper': STNWarper}[cfg['type']]
    out = gen(*gen.sample_codes(2))
    assert out.image.shape == (2, 3, gen.out_size, gen.out_size)
    assert torch.equal(out.corr_map, gen.grid.expand(2, -1, -1, -1))
    out.image.square().mean().backward()
    assert gen.warper.head[-1].weight.grad.abs().sum() > 0
    # Derived buffers stay out of checkpoints and travel with copies (EMA).
    assert not any(k in gen.state_dict() for k in
                   ('warper.solver', 'warper.control_points', 'warper.identity'))
    ema = copy.deepcopy(gen)
    w_s = torch.randn(2, gen.style_dim)
    assert torch.equal(ema.warp(w_s), gen.warp(w_s))


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="'affine', 'similarity', 'translation'"):
        build(type='STNWarper', mode='projective')
    with pytest.raises(ValueError, match='at least 2 points per side'):
        build(type='TPSWarper', control_grid=(1, 4))
    with pytest.raises(ValueError, match='w_s must be'):
        build(type='TPSWarper')(torch.randn(2, STYLE + 1), canonical_grid(4))
    with pytest.raises(ValueError, match='grid must be'):
        build(type='STNWarper')(torch.randn(2, STYLE), torch.randn(3, 2, 4, 4))
