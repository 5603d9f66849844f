"""CoordGAN's generator: mapping nets, a warper and the coordinate-modulated synthesis net A."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from coordgan.ops import canonical_grid, resampled_grid
from coordgan.registry import GENERATORS, WARPERS
from ..layers import FourierFeatures, MappingNetwork, StyledConv, ToRGB
from .base import BaseGenerator, GeneratorOutput

STRUCTURE_MODULATIONS = ('concat', 'fourier')


class CoordSynthesisNetwork(nn.Module):
    """A(C^w, W+): Fourier features of C^w, modulated convs at the grid size, then upsampling blocks.

    ``structure_modulation='concat'`` appends the raw C^w after every
    modulated conv at the grid resolution (11 times at the default depth);
    ``'fourier'`` is the "w/o struc-mod" ablation where C^w only enters
    through the Fourier features. Upsampling blocks never see C^w.
    ``fused_modconv``: every modulated conv as one grouped conv (see
    ``CoordGANGenerator``).
    """

    def __init__(self,
                 style_dim: int = 512,
                 channels: int = 512,
                 num_blocks: int = 5,
                 upsample_channels: Sequence[int] = (),
                 structure_modulation: str = 'concat',
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 fourier_scale: float = 1.0,
                 noise_inputs: bool = True,
                 fused_modconv: bool = False):
        super().__init__()
        if structure_modulation not in STRUCTURE_MODULATIONS:
            raise ValueError(
                f'structure_modulation must be one of {STRUCTURE_MODULATIONS},'
                f' got {structure_modulation!r}')
        self.concat = structure_modulation == 'concat'
        self.num_blocks = num_blocks
        width = channels + (2 if self.concat else 0)

        self.fourier = FourierFeatures(2, channels, fourier_scale)
        self.conv1 = StyledConv(channels, channels, 3, style_dim,
                                use_noise=noise_inputs, fused=fused_modconv)
        self.to_rgb1 = ToRGB(width, style_dim, fused=fused_modconv)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for _ in range(num_blocks):
            for _ in range(2):
                self.convs.append(
                    StyledConv(width, channels, 3, style_dim,
                               use_noise=noise_inputs, fused=fused_modconv))
            self.to_rgbs.append(ToRGB(width, style_dim, fused=fused_modconv))
        in_ch = width
        for ch in upsample_channels:
            self.convs.append(
                StyledConv(in_ch, ch, 3, style_dim, upsample=True,
                           blur_kernel=blur_kernel, use_noise=noise_inputs,
                           fused=fused_modconv))
            self.convs.append(StyledConv(ch, ch, 3, style_dim,
                                         use_noise=noise_inputs,
                                         fused=fused_modconv))
            self.to_rgbs.append(
                ToRGB(ch, style_dim, upsample=True, blur_kernel=blur_kernel,
                      fused=fused_modconv))
            in_ch = ch
        # One code for conv1, then two per block; the last ToRGB shares the
        # slot after the last conv (StyleGAN2 indexing).
        self.num_latents = len(self.convs) + 2

    def noise_sides(self, grid_size: int) -> List[int]:
        """Side of each noise input (one per styled conv) for a ``grid_size`` C^w."""
        sides = [grid_size] * (1 + 2 * self.num_blocks)
        for up in range(1, (len(self.convs) - 2 * self.num_blocks) // 2 + 1):
            sides += [grid_size * 2**up] * 2
        return sides

    def _coords(self, x: torch.Tensor, corr_map: torch.Tensor,
                block: int) -> torch.Tensor:
        if self.concat and block < self.num_blocks:
            return torch.cat([x, corr_map], dim=1)
        return x

    def forward(self,
                corr_map: torch.Tensor,
                w_plus: torch.Tensor,
                noise: Optional[List[Optional[torch.Tensor]]] = None
                ) -> torch.Tensor:
        """C^w (B, 2, G, G), W+ (B, num_latents, D) -> image (B, 3, S, S), no output activation."""
        if noise is None:
            noise = [None] * (len(self.convs) + 1)
        x = self.conv1(self.fourier(corr_map), w_plus[:, 0], noise[0])
        x = self._coords(x, corr_map, 0)
        skip = self.to_rgb1(x, w_plus[:, 1])
        i = 1
        for block, to_rgb in enumerate(self.to_rgbs):
            conv_a, conv_b = self.convs[2 * block], self.convs[2 * block + 1]
            x = self._coords(conv_a(x, w_plus[:, i], noise[i]), corr_map,
                             block)
            x = self._coords(conv_b(x, w_plus[:, i + 1], noise[i + 1]),
                             corr_map, block)
            skip = to_rgb(x, w_plus[:, i + 2], skip)
            i += 2
        return skip


@GENERATORS.register_module()
class CoordGANGenerator(BaseGenerator):
    """G(z_s, z_t) = A(W(C, S(z_s)), T(z_t)): the CoordGAN generator.

    Args:
        out_size: image side; ``grid_size * 2**len(upsampling blocks)``
            (128 or 512 with the defaults).
        z_dim, style_dim: noise and code sizes (512).
        channels: width of the modulated convs at the grid resolution (512).
        num_blocks: two-conv blocks at the grid resolution (5).
        grid_size: side of the canonical grid and of C^w (128, for every
            image size).
        mapping_layers, mapping_lr_mul: depth and lr multiplier of both
            mapping networks (8, 0.01).
        warper: config of a registered warper (default ``MLPWarper``);
            ``style_dim`` is filled in.
        structure_modulation: ``'concat'`` (CoordGAN) or ``'fourier'``
            (the "w/o struc-mod" ablation).
        upsample_channels: widths of the upsampling blocks, used in order
            for as many blocks as ``out_size / grid_size`` needs
            ((128, 64): 256 and 512).
        fourier_scale: multiplies the Fourier features' frequency bound
            sqrt(9/2) (1, the paper's value).
        noise_inputs: per-pixel noise after every modulated conv (True, the
            paper's); False leaves C^w and the codes as the only inputs.
        backward_warper: CoordGAN-B (paper, appendix E): a second warper
            config (e.g. ``dict(type='MLPWarper')``) that maps C^w and w_s
            back to canonical coordinates; its prediction is the output's
            ``aux['cycle']`` (B, 2, G, G), which ``CycleLoss`` compares with
            the canonical grid. ``None`` (CoordGAN): no backward map.
        fused_modconv: each modulated conv as one grouped conv with the
            per-sample weights (the authors' code) instead of scaling the
            activations around one shared-weight conv (StyleGAN2-ADA's
            training path; the default). The same function up to float
            rounding, so checkpoints load either way; the shared-weight form
            makes a CPU training step 1.4-1.5x faster (docs/benchmarks.md).
    """

    def __init__(self,
                 out_size: int = 128,
                 z_dim: int = 512,
                 style_dim: int = 512,
                 channels: int = 512,
                 num_blocks: int = 5,
                 grid_size: int = 128,
                 mapping_layers: int = 8,
                 mapping_lr_mul: float = 0.01,
                 warper: Optional[dict] = None,
                 structure_modulation: str = 'concat',
                 upsample_channels: Sequence[int] = (128, 64),
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 fourier_scale: float = 1.0,
                 noise_inputs: bool = True,
                 backward_warper: Optional[dict] = None,
                 fused_modconv: bool = False):
        super().__init__()
        num_up = self._num_upsamplings(out_size, grid_size)
        if num_up > len(upsample_channels):
            raise ValueError(
                f'out_size={out_size} needs {num_up} upsampling blocks above '
                f'grid_size={grid_size}, but upsample_channels gives only '
                f'{len(upsample_channels)}: {tuple(upsample_channels)}')
        self.out_size = out_size
        self.z_dim = z_dim
        self.style_dim = style_dim
        self.grid_size = grid_size
        self.structure_mapping = MappingNetwork(z_dim, style_dim,
                                                mapping_layers, mapping_lr_mul)
        self.texture_mapping = MappingNetwork(z_dim, style_dim,
                                              mapping_layers, mapping_lr_mul)
        warper = dict(warper or dict(type='MLPWarper'))
        warper.setdefault('style_dim', style_dim)
        self.warper = WARPERS.build(warper)
        self.backward_warper = None
        if backward_warper is not None:
            backward_warper = dict(backward_warper)
            backward_warper.setdefault('style_dim', style_dim)
            self.backward_warper = WARPERS.build(backward_warper)
        self.synthesis = CoordSynthesisNetwork(
            style_dim, channels, num_blocks,
            tuple(upsample_channels)[:num_up], structure_modulation,
            blur_kernel, fourier_scale, noise_inputs, fused_modconv)
        self.num_latents = self.synthesis.num_latents
        # Derived from grid_size, so not saved: checkpoints stay small and a
        # copied (EMA) generator carries its own.
        self.register_buffer('grid', canonical_grid(grid_size),
                             persistent=False)

    @staticmethod
    def _num_upsamplings(out_size: int, grid_size: int) -> int:
        ratio, num = out_size // grid_size, 0
        while ratio > 1 and ratio % 2 == 0:
            ratio, num = ratio // 2, num + 1
        if out_size != grid_size * 2**num:
            raise ValueError(
                f'out_size must be grid_size * 2**k, got out_size={out_size} '
                f'and grid_size={grid_size}')
        return num

    def make_noise(self,
                   num: int,
                   device: Optional[torch.device] = None,
                   generator: Optional[torch.Generator] = None
                   ) -> List[torch.Tensor]:
        device = self.grid.device if device is None else device
        return [
            torch.randn(num, 1, side, side, device=device, generator=generator)
            for side in self.synthesis.noise_sides(self.grid_size)
        ]

    def map_structure(self, z_s: torch.Tensor) -> torch.Tensor:
        return self.structure_mapping(z_s)

    def map_texture(self, z_t: torch.Tensor) -> torch.Tensor:
        return self.texture_mapping(z_t)

    def warp(self, w_s: torch.Tensor, size: Optional[int] = None
             ) -> torch.Tensor:
        """(B, style_dim) -> C^w (B, 2, G, G); ``size``: read on a ``size``-pixel grid instead (test time, see resampled_grid)."""
        if size is None or size == self.grid_size:
            return self.warper(w_s, self.grid)
        return self.warper(
            w_s, resampled_grid(self.grid_size, size, self.grid.device,
                                self.grid.dtype))

    def synthesize(self,
                   w_s: torch.Tensor,
                   w_t: torch.Tensor,
                   noise: Optional[list] = None) -> GeneratorOutput:
        if w_t.ndim == 2:
            w_t = w_t[:, None].expand(-1, self.num_latents, -1)
        if w_t.shape[1:] != (self.num_latents, self.style_dim):
            raise ValueError(
                f'w_t must be (B, {self.style_dim}) or (B, {self.num_latents},'
                f' {self.style_dim}), got {tuple(w_t.shape)}')
        corr_map = self.warp(w_s)
        aux = None
        if self.backward_warper is not None:
            # The backward map reads C^w as its coordinate grid; the cycle
            # loss's gradient reaches both warpers, which is what asks the
            # forward map to be invertible.
            aux = dict(cycle=self.backward_warper(w_s, corr_map))
        return GeneratorOutput(self.synthesis(corr_map, w_t, noise), corr_map,
                               aux)
