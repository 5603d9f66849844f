"""The generator kind: (structure code, texture code) -> image and correspondence map."""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn

from coordgan.ops import pair_swap


class GeneratorOutput(NamedTuple):
    """``image`` (B, 3, S, S); ``corr_map`` C^w (B, 2, G, G) in [-1, 1].

    ``aux``: further per-sample tensors (batch first) that some generators
    produce for their losses, e.g. ``cycle`` of CoordGAN-B; ``None`` if none.
    """
    image: torch.Tensor
    corr_map: torch.Tensor
    aux: Optional[Dict[str, torch.Tensor]] = None

    def select(self, index) -> 'GeneratorOutput':
        """The same output for the samples ``index`` (a slice or index tensor)."""
        aux = (None if self.aux is None else
               {k: v[index] for k, v in self.aux.items()})
        return GeneratorOutput(self.image[index], self.corr_map[index], aux)


class BaseGenerator(nn.Module, metaclass=ABCMeta):
    """A structure/texture generator ``G(z_s, z_t) -> (image, C^w)``.

    Subclasses map noise to codes (:meth:`map_structure`,
    :meth:`map_texture`) and render codes (:meth:`synthesize`); sampling,
    calling and swapping are shared. Everything a generator holds lives in
    parameters and buffers, so a deep copy is a valid EMA copy.
    """

    z_dim: int
    style_dim: int
    num_latents: int

    @abstractmethod
    def map_structure(self, z_s: torch.Tensor) -> torch.Tensor:
        """(B, z_dim) noise -> (B, style_dim) structure code w_s."""

    @abstractmethod
    def map_texture(self, z_t: torch.Tensor) -> torch.Tensor:
        """(B, z_dim) noise -> (B, style_dim) texture code w_t."""

    @abstractmethod
    def warp(self, w_s: torch.Tensor, size: Optional[int] = None
             ) -> torch.Tensor:
        """(B, style_dim) w_s -> C^w (B, 2, G, G) in [-1, 1]; ``size``: C^w read at the pixel centres of a ``size`` x ``size`` grid instead (for matching below one cell)."""

    @abstractmethod
    def synthesize(self,
                   w_s: torch.Tensor,
                   w_t: torch.Tensor,
                   noise: Optional[list] = None) -> GeneratorOutput:
        """w_s (B, style_dim) and w_t (B, style_dim) or W+ (B, num_latents, style_dim) -> output."""

    def make_noise(self,
                   num: int,
                   device: Optional[torch.device] = None,
                   generator: Optional[torch.Generator] = None
                   ) -> Optional[List[torch.Tensor]]:
        """Per-layer N(0, 1) noise for ``num`` samples (``None``: the generator has none)."""
        return None

    def sample_codes(
        self,
        num: int,
        device: Optional[torch.device] = None,
        generator: Optional[torch.Generator] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``num`` pairs of N(0, I) noise -> (z_s, z_t), each (num, z_dim)."""
        if device is None:
            device = next(self.parameters()).device
        z = torch.randn(2, num, self.z_dim, device=device, generator=generator)
        return z[0], z[1]

    def forward(self,
                z_s: torch.Tensor,
                z_t: torch.Tensor,
                noise: Optional[list] = None) -> GeneratorOutput:
        """(B, z_dim), (B, z_dim) -> image and correspondence map."""
        return self.synthesize(self.map_structure(z_s), self.map_texture(z_t),
                               noise)

    def texture_swap(self, z_s: torch.Tensor,
                     z_t: torch.Tensor) -> GeneratorOutput:
        """Each image of a consecutive pair keeps its structure and takes its partner's texture."""
        return self(z_s, pair_swap(z_t))

    def structure_swap(self, z_s: torch.Tensor,
                       z_t: torch.Tensor) -> GeneratorOutput:
        """Each image of a consecutive pair keeps its texture and takes its partner's structure."""
        return self(pair_swap(z_s), z_t)
