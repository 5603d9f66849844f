"""Two trivial baselines the benchmark prints next to real methods."""
import torch

from coordgan.ops import canonical_grid
from coordgan.registry import FEATURE_EXTRACTORS
from .base import BaseCorrespondence


@FEATURE_EXTRACTORS.register_module()
class CopyReferenceMask(BaseCorrespondence):
    """Descriptor = the pixel's own position: the reference mask is copied unchanged."""

    def __init__(self, input_size: int = 128, tau: float = 1e-4):
        super().__init__(input_size, tau)

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        if h != w:
            raise ValueError(f'square images expected, got {h}x{w}')
        return canonical_grid(h, images.device).expand(b, -1, -1, -1)


@FEATURE_EXTRACTORS.register_module()
class RawPixelNearestNeighbour(BaseCorrespondence):
    """Descriptor = the RGB value; each query pixel takes the label of the nearest-coloured reference pixel."""

    def __init__(self, input_size: int = 128, tau: float = 1e-4):
        super().__init__(input_size, tau)

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        return images
