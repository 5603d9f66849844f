"""Thin-plate-spline warper: w_s moves a few control points, a TPS carries the whole grid along."""
from typing import Sequence, Tuple, Union

import torch

from coordgan.registry import WARPERS
from .base import BaseWarper, zero_init_head


def tps_kernel(sq_dist: torch.Tensor) -> torch.Tensor:
    """U(r) = r^2 log r^2 of squared distances r^2 (any shape), with U(0) = 0."""
    # r^2 log r^2 -> 0 as r -> 0, but 0 * log(0) is nan: the clamp only
    # touches r = 0, where it turns the product into 0 * finite = 0.
    tiny = torch.finfo(sq_dist.dtype).tiny
    return sq_dist * torch.log(sq_dist.clamp_min(tiny))


def tps_basis(coords: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(..., N, 2) positions, (K, 2) control points -> (..., N, K + 3): [U(|q - p_k|) for k, 1, x, y]."""
    sq_dist = (coords[..., :, None, :] - points).square().sum(-1)
    return torch.cat(
        [tps_kernel(sq_dist), torch.ones_like(coords[..., :1]), coords], -1)


def control_point_grid(rows: int, cols: int,
                       dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(rows * cols, 2) points (x, y) spanning [-1, 1]^2, both ends included, x varying fastest."""
    y, x = torch.meshgrid(torch.linspace(-1.0, 1.0, rows, dtype=dtype),
                          torch.linspace(-1.0, 1.0, cols, dtype=dtype),
                          indexing='ij')
    return torch.stack([x.flatten(), y.flatten()], 1)


def tps_solver(points: torch.Tensor) -> torch.Tensor:
    """(K, 2) control points -> (K + 3, K) matrix S such that S @ values = TPS coefficients.

    The coefficients [w_1..w_K, a_1, a_x, a_y] of the interpolant
    f(q) = sum_k w_k U(|q - p_k|) + a_1 + a_x x + a_y y with f(p_k) = v_k
    solve the standard system [[U(|p_i - p_j|), P], [P^T, 0]] [w; a] = [v; 0],
    P = [1, x, y] (K, 3). The system depends on the points only, so it is
    solved once for every right-hand side [e_k; 0] and the solution reused.
    """
    k = points.shape[0]
    basis = tps_basis(points, points)  # (K, K + 3) = [U, P]
    system = points.new_zeros(k + 3, k + 3)
    system[:k] = basis
    system[k:, :k] = basis[:, k:].T
    rhs = torch.cat([torch.eye(k, dtype=points.dtype), points.new_zeros(3, k)])
    return torch.linalg.solve(system, rhs)


@WARPERS.register_module()
class TPSWarper(BaseWarper):
    """C^w = clamp(q + TPS(q), -1, 1): a thin-plate spline through predicted control-point offsets.

    A baseline of the paper ("TPS and STN are less flexible" than the MLP
    warper). The head (an MLP on ``w_s``) gives one (dx, dy) offset per
    control point; the spline interpolating those offsets (kernel
    U(r) = r^2 log r^2 plus an affine part) moves every grid point q. The
    head's last layer starts at zero, so C^w is exactly the canonical grid
    at initialisation.

    Args:
        style_dim: size of ``w_s``.
        hidden_channels: widths of the head's hidden layers; ``()`` makes
            the head one linear layer.
        control_grid: control points per side, or (rows, columns); they
            span [-1, 1]^2 with both ends included, ordered row by row
            (x varying fastest), like the canonical grid.
        init_std: 0 (default) starts C^w at the canonical grid for every
            code; > 0 draws the head's last weight from N(0, init_std^2),
            so codes start at different maps near the identity (a
            symmetry-breaking start; see :func:`zero_init_head`).

    The output is clamped to [-1, 1], the warper contract. Not tanh (the MLP
    warper's choice): tanh would shrink the identity grid towards 0
    (tanh(1) = 0.76), so the warp could not start at the identity; the
    clamp leaves every point inside the square unchanged and only stops
    points pushed out of it (their gradient is 0 while they stay out).
    """

    def __init__(self,
                 style_dim: int = 512,
                 hidden_channels: Sequence[int] = (256, ),
                 control_grid: Union[int, Tuple[int, int]] = 4,
                 init_std: float = 0.0):
        super().__init__(style_dim)
        rows, cols = ((control_grid, control_grid) if isinstance(
            control_grid, int) else tuple(control_grid))
        if rows < 2 or cols < 2:
            # Fewer points per side would not span [-1, 1] and the affine
            # part of the system would be singular.
            raise ValueError(f'control_grid needs at least 2 points per side,'
                             f' got {control_grid!r}')
        self.control_grid = (rows, cols)
        self.num_points = rows * cols
        self.head = zero_init_head(style_dim, hidden_channels,
                                   2 * self.num_points, init_std)
        points = control_point_grid(rows, cols, torch.float64)
        # Derived from control_grid, so not saved (like the generator's
        # grid); solved in float64 because the kernel block is badly
        # conditioned for dense control grids.
        dtype = torch.get_default_dtype()
        self.register_buffer('control_points', points.to(dtype),
                             persistent=False)
        self.register_buffer('solver', tps_solver(points).to(dtype),
                             persistent=False)

    def control_offsets(self, w_s: torch.Tensor) -> torch.Tensor:
        """(B, style_dim) -> (B, K, 2): (dx, dy) of each control point, in grid units."""
        return self.head(w_s).view(w_s.shape[0], self.num_points, 2)

    def forward(self, w_s: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """(B, style_dim), (1|B, 2, H, W) in [-1, 1] -> C^w (B, 2, H, W) in [-1, 1]."""
        self.check_inputs(w_s, grid)
        b, (h, w) = w_s.shape[0], grid.shape[-2:]
        coeffs = self.solver @ self.control_offsets(w_s)  # (B, K + 3, 2)
        coords = grid.flatten(2).transpose(1, 2)  # (1|B, HW, 2)
        # The spline interpolates offsets, not positions: zero offsets give
        # zero coefficients and C^w = grid bit for bit.
        warped = coords + tps_basis(coords, self.control_points) @ coeffs
        return warped.clamp(-1.0, 1.0).transpose(1, 2).reshape(b, 2, h, w)
