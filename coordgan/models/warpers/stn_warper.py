"""Spatial-transformer warper: w_s -> one global affine map of the canonical grid."""
from typing import Sequence

import torch

from coordgan.registry import WARPERS
from .base import BaseWarper, zero_init_head

# Number of head outputs per mode.
STN_MODES = {'affine': 6, 'similarity': 4, 'translation': 2}


@WARPERS.register_module()
class STNWarper(BaseWarper):
    """C^w = clamp(A(w_s) [x, y]^T + t(w_s), -1, 1): one affine map per sample, as in a spatial transformer.

    A baseline of the paper ("TPS and STN are less flexible" than the MLP
    warper). The head (an MLP on ``w_s``) predicts a change from the
    identity, and its last layer starts at zero, so C^w is exactly the
    canonical grid at initialisation.

    Args:
        style_dim: size of ``w_s``.
        hidden_channels: widths of the head's hidden layers; ``()`` makes
            the head one linear layer.
        mode: which maps the head can reach:

            * ``'affine'``: any [[a, b, c], [d, e, f]]; the 6 head outputs
              are added row by row to [[1, 0, 0], [0, 1, 0]].
            * ``'similarity'``: s R(angle) + t from (log s, angle, t_x,
              t_y); log s keeps the scale positive (no mirroring), and the
              angle turns +x towards +y (radians).
            * ``'translation'``: identity + (t_x, t_y).
        init_std: 0 (default) starts C^w at the canonical grid for every
            code; > 0 draws the head's last weight from N(0, init_std^2),
            so codes start at different maps near the identity (a
            symmetry-breaking start; see :func:`zero_init_head`).

    The output is clamped to [-1, 1], the warper contract, for the reason
    given in :class:`TPSWarper`: tanh would move the identity grid.
    """

    def __init__(self,
                 style_dim: int = 512,
                 hidden_channels: Sequence[int] = (256, ),
                 mode: str = 'affine',
                 init_std: float = 0.0):
        super().__init__(style_dim)
        if mode not in STN_MODES:
            raise ValueError(f'STNWarper: mode must be one of '
                             f'{tuple(STN_MODES)}, got {mode!r}')
        self.mode = mode
        self.head = zero_init_head(style_dim, hidden_channels,
                                   STN_MODES[mode], init_std)
        self.register_buffer('identity', torch.eye(2, 3), persistent=False)

    def theta(self, w_s: torch.Tensor) -> torch.Tensor:
        """(B, style_dim) -> (B, 2, 3) matrices [A | t] acting on columns (x, y, 1)."""
        params = self.head(w_s)
        if self.mode == 'affine':
            return self.identity + params.view(-1, 2, 3)
        if self.mode == 'translation':
            linear = self.identity[:, :2].expand(params.shape[0], 2, 2)
            return torch.cat([linear, params[:, :, None]], 2)
        scale = torch.exp(params[:, 0])
        cos = scale * torch.cos(params[:, 1])
        sin = scale * torch.sin(params[:, 1])
        linear = torch.stack([cos, -sin, sin, cos], 1).view(-1, 2, 2)
        return torch.cat([linear, params[:, 2:, None]], 2)

    def forward(self, w_s: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """(B, style_dim), (1|B, 2, H, W) in [-1, 1] -> C^w (B, 2, H, W) in [-1, 1]."""
        self.check_inputs(w_s, grid)
        b, (h, w) = w_s.shape[0], grid.shape[-2:]
        theta = self.theta(w_s)
        coords = grid.flatten(2)  # (1|B, 2, HW)
        warped = theta[:, :, :2] @ coords + theta[:, :, 2:]
        return warped.clamp(-1.0, 1.0).reshape(b, 2, h, w)
