"""The generator's correspondence and disentanglement losses (REFERENCE.md section 6)."""
from typing import Callable, Optional

import torch

from coordgan.ops import (chamfer_distance, pair_swap, resize_to,
                          warp_by_correspondence)
from coordgan.ops.chamfer import dense_chamfer_distance
from coordgan.ops.soft_correspondence import dense_soft_correspondence
from coordgan.registry import LOSSES
from .base import BaseLoss, StepOutputs

Perceptual = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# How the correspondence losses compare all points of two maps. 'chunked'
# (default) never keeps a (N, N) matrix between forward and backward;
# 'dense' materialises it as the authors' code does (~10 GiB of autograd
# graph per warped image at 128x128, two per pair): same values and
# gradients, kept to measure the two side by side (docs/benchmarks.md).
IMPLEMENTATIONS = ('chunked', 'dense')


def check_implementation(owner: str, implementation: str) -> str:
    """``implementation`` if it is one of IMPLEMENTATIONS, else a ValueError naming them."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f'{owner} implementation must be one of '
                         f'{IMPLEMENTATIONS}, got {implementation!r}')
    return implementation


class ImageDistanceLoss(BaseLoss):
    """A loss that compares pictures: with the model's shared LPIPS, or with its own ``distance``.

    ``distance`` is a LOSSES config (e.g. ``dict(type='EdgeDistance')``) used
    for this term only; by default the shared LPIPS is used, as in the paper.
    """

    def __init__(self, loss_weight: float = 1.0,
                 ramp: Optional[dict] = None,
                 distance: Optional[dict] = None):
        super().__init__(loss_weight, ramp)
        self.distance = None if distance is None else LOSSES.build(distance)

    def image_distance(self, perceptual: Perceptual) -> Perceptual:
        """The distance this term compares pictures with."""
        return perceptual if self.distance is None else self.distance


@LOSSES.register_module()
class TextureSwapLoss(ImageDistanceLoss):
    """LPIPS(fake, texture-swapped): same structure, other texture, should look alike in structure.

    The gradient flows into both images. ``distance``: see
    :class:`ImageDistanceLoss`.
    """

    def __init__(self, loss_weight: float = 5.0,
                 ramp: Optional[dict] = None,
                 distance: Optional[dict] = None):
        super().__init__(loss_weight, ramp, distance)

    phases = ('generator',)

    def forward(self, fake: torch.Tensor, tex_swap: torch.Tensor,
                perceptual: Perceptual) -> torch.Tensor:
        return self.image_distance(perceptual)(fake, tex_swap).mean()

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        return self(step.fake.image, step.tex_swap.image, step.perceptual)


@LOSSES.register_module()
class ChamferLoss(BaseLoss):
    """Chamfer distance between C^w and the canonical grid, so the warp cannot collapse.

    ``squared=True`` (code) uses squared distances; ``False`` the paper's L2.
    ``implementation``: ``'chunked'`` (nearest neighbours found chunk by
    chunk without gradients) or ``'dense'`` (the full (B, N, M) distance
    matrix in the graph, as the authors' code); same value and gradients.
    ``align``: ``'none'`` (paper and code) compares each C^w with the grid
    as it is, so a map that is the grid moved (an object shifted or turned
    in the picture) pays for the move. ``'translation'`` first subtracts
    each map's mean position minus the grid's; ``'rigid'`` also turns each
    map by the rotation that best aligns C^w(p) with the grid point p
    (least squares over the paired points, 2-D Procrustes without scale);
    ``'similarity'`` also scales it by its least-squares factor relative to
    the batch's (geometric mean over the batch). A map that is the grid
    moved that way costs nothing; maps that all shrink together still pay,
    as does a map collapsed onto a line. An addition of this library, not
    the paper's.
    """

    phases = ('generator',)
    ALIGNMENTS = ('none', 'translation', 'rigid', 'similarity')

    def __init__(self, loss_weight: float = 200.0, squared: bool = True,
                 ramp: Optional[dict] = None,
                 implementation: str = 'chunked',
                 align: str = 'none'):
        super().__init__(loss_weight, ramp)
        self.squared = squared
        self.implementation = check_implementation('ChamferLoss',
                                                   implementation)
        if align not in self.ALIGNMENTS:
            raise ValueError(f'ChamferLoss align must be one of '
                             f'{self.ALIGNMENTS}, got {align!r}')
        self.align = align

    def aligned(self, corr_map: torch.Tensor,
                grid: torch.Tensor) -> torch.Tensor:
        """C^w (B, 2, H, W) with the move ``align`` names taken out, onto the grid (1, 2, H, W)."""
        if self.align == 'none':
            return corr_map
        grid = grid.to(corr_map.dtype)
        centre = grid.mean(dim=(2, 3), keepdim=True)
        mean = corr_map.mean(dim=(2, 3), keepdim=True)
        moved = corr_map - mean
        if self.align in ('rigid', 'similarity'):
            # The angle a that minimises sum_p |R(a) c_p - g_p|^2 for the
            # centred pairs (c_p, g_p): tan a = sum(c x g) / sum(c . g).
            g = grid - centre
            cx, cy = moved[:, 0], moved[:, 1]
            gx, gy = g[:, 0], g[:, 1]
            cross = (cx * gy - cy * gx).sum(dim=(1, 2))
            dot = (cx * gx + cy * gy).sum(dim=(1, 2))
            angle = torch.atan2(cross, dot)[:, None, None]
            cos, sin = torch.cos(angle), torch.sin(angle)
            moved = torch.stack([cos * cx - sin * cy, sin * cx + cos * cy],
                                1)
            if self.align == 'similarity':
                # The scale s minimising sum_p |s R c_p - g_p|^2 for that R,
                # divided by the batch's geometric mean of s: differences in
                # size between maps are forgiven, their common size is not
                # (a size-blind term lets every map shrink together).
                scale = (torch.hypot(cross, dot) / (cx.square() + cy.square())
                         .sum(dim=(1, 2))).clamp(min=1e-12).log()
                scale = (scale - scale.mean()).exp()
                moved = moved * scale[:, None, None, None]
        return moved + centre

    def forward(self, corr_map: torch.Tensor,
                grid: torch.Tensor) -> torch.Tensor:
        """C^w (B, 2, H, W), canonical grid (1, 2, H, W) -> scalar."""
        corr_map = self.aligned(corr_map, grid)
        points = corr_map.flatten(2).transpose(1, 2)
        targets = grid.flatten(2).transpose(1, 2)
        if self.implementation == 'dense':
            return dense_chamfer_distance(
                points, targets.expand(points.shape[0], -1, -1),
                squared=self.squared)
        return chamfer_distance(points, targets, squared=self.squared)

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        return self(step.fake.corr_map, step.grid)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, align={self.align!r}'


@LOSSES.register_module()
class StructureDiversityLoss(BaseLoss):
    """Mode seeking on C^w: ``1 / (eps + d)``, d the mean distance between the maps of two structure codes.

    The pairs are the batch's consecutive generated images (independent
    structure codes); d is the per-point Euclidean distance between their
    C^w, averaged over points and pairs, in canonical units (so the term
    means the same at every grid size). Every other term on the structure
    branch has the collapsed map (every code gives one map) among its
    minimisers; this one is largest there (``1 / eps``) and fades as the
    maps spread (gradient ``-1 / (eps + d)^2``). MSGAN's mode-seeking term (Mao
    et al., CVPR 2019) on the maps, without its division by the distance
    of the codes: i.i.d. Gaussian codes of dimension >= 64 are all at
    nearly the same distance. Not in the paper; an addition of this
    library.
    """

    phases = ('generator',)

    def __init__(self, loss_weight: float = 1.0, eps: float = 0.01,
                 ramp: Optional[dict] = None):
        super().__init__(loss_weight, ramp)
        if eps <= 0:
            raise ValueError(f'StructureDiversityLoss eps must be > 0, got '
                             f'{eps}')
        self.eps = float(eps)

    def forward(self, corr_map: torch.Tensor) -> torch.Tensor:
        """C^w (2n, 2, H, W) of 2n structure codes -> scalar."""
        distance = (corr_map - pair_swap(corr_map)).square().sum(1).add(
            1e-12).sqrt().mean()
        return 1.0 / (self.eps + distance)

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        return self(step.fake.corr_map)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, eps={self.eps}'


@LOSSES.register_module()
class WarpLoss(ImageDistanceLoss):
    """Warp each image of a pair into its partner's frame by soft correspondence; LPIPS to the partner.

    For a pair (1, 2): x_{1<-2} = softmax_k(-d(C1(i), C2(k)) / tau) @ x2 and
    symmetrically; the loss is LPIPS(x_{1<-2}, x1.detach()). Images larger
    than the correspondence map are bilinearly resized to it first.
    ``squared=False`` (code and paper) uses the plain L2 distance.
    ``distance``: see :class:`ImageDistanceLoss`. The two images of a pair
    have different textures (paper, eq. 6), so the distance should weigh
    structure above colour.

    ``tau`` is given for a map of ``tau_grid`` points per side (128, the
    paper's C^w): on a G-point map the softmax uses ``tau * (tau_grid - 1) /
    (G - 1)``, the same temperature relative to the grid spacing, so a
    smaller model warps as sharply as the paper's (at 32 px: 0.041).
    ``tau_grid=None`` uses ``tau`` as given at every size.

    ``implementation``: ``'chunked'`` (default; :func:`soft_correspondence`
    recomputes the affinity chunk by chunk in backward, ``chunk_size``
    query rows at a time, None: sized to ~8 MiB on CPU, ~32 MiB on GPU) or
    ``'dense'``, the authors' formulation: the whole (n, N, N) affinity and
    its (n, N, N, 2) coordinate differences kept for backward (``chunk_size``
    unused). Same values and gradients; 'dense' needs ~10 GiB per warped
    image at 128x128 (two per pair).
    """

    phases = ('generator',)

    def __init__(self, loss_weight: float = 5.0, tau: float = 0.01,
                 squared: bool = False, chunk_size: Optional[int] = None,
                 ramp: Optional[dict] = None,
                 distance: Optional[dict] = None,
                 tau_grid: Optional[int] = 128,
                 implementation: str = 'chunked'):
        super().__init__(loss_weight, ramp, distance)
        self.implementation = check_implementation('WarpLoss',
                                                   implementation)
        if tau <= 0:
            raise ValueError(f'WarpLoss tau must be > 0, got {tau}')
        if tau_grid is not None and tau_grid < 2:
            raise ValueError(f'WarpLoss tau_grid must be >= 2 or None, got '
                             f'{tau_grid}')
        self.tau = tau
        self.tau_grid = tau_grid
        self.squared = squared
        self.chunk_size = chunk_size

    def tau_for(self, grid_size: int) -> float:
        """The softmax temperature on a map of ``grid_size`` points per side."""
        if self.tau_grid is None:
            return self.tau
        return self.tau * (self.tau_grid - 1) / (grid_size - 1)

    def warp_partners(self, images: torch.Tensor,
                      corr_maps: torch.Tensor) -> torch.Tensor:
        """(2n, 3, S, S), (2n, 2, G, G) -> (2n, 3, G, G): each image rebuilt from its partner."""
        images = resize_to(images, corr_maps.shape[-1])
        tau = self.tau_for(corr_maps.shape[-1])
        if self.implementation == 'chunked':
            return warp_by_correspondence(corr_maps, pair_swap(corr_maps),
                                          pair_swap(images), tau,
                                          self.squared, self.chunk_size)
        query = corr_maps.flatten(2).transpose(1, 2)
        values = pair_swap(images).flatten(2).transpose(1, 2)
        warped = dense_soft_correspondence(query, pair_swap(query), values,
                                           tau, self.squared)
        return warped.transpose(1, 2).reshape(images.shape)

    def forward(self, images: torch.Tensor, corr_maps: torch.Tensor,
                perceptual: Perceptual) -> torch.Tensor:
        # Resized once: the same images are the values and the targets.
        images = resize_to(images, corr_maps.shape[-1])
        warped = self.warp_partners(images, corr_maps)
        return self.image_distance(perceptual)(warped,
                                               images.detach()).mean()

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        return self(step.fake.image, step.fake.corr_map, step.perceptual)


@LOSSES.register_module()
class CycleLoss(BaseLoss):
    """CoordGAN-B's cycle term: L1 between the backward map's prediction and the canonical grid.

    Reads ``aux['cycle']`` of the generated images (B, 2, G, G), which a
    generator with a ``backward_warper`` produces. The paper (appendix E)
    gives no weight: 1.0 by default, a config value.
    """

    phases = ('generator',)

    def check_model(self, model) -> None:
        if getattr(model.generator, 'backward_warper', None) is None:
            raise ValueError(
                'CycleLoss (CoordGAN-B) needs model.generator.backward_warper, '
                'e.g. dict(type="MLPWarper")')

    def forward(self, cycle: torch.Tensor,
                grid: torch.Tensor) -> torch.Tensor:
        """(B, 2, G, G), (1, 2, G, G) -> mean absolute difference."""
        return (cycle - grid).abs().mean()

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        aux = step.fake.aux or {}
        if 'cycle' not in aux:
            raise KeyError(
                'CycleLoss reads the generator output aux["cycle"]: configure '
                'model.generator.backward_warper (CoordGAN-B)')
        return self(aux['cycle'], step.grid)
