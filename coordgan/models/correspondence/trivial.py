"""Two trivial baselines the benchmark prints next to real methods."""
import torch
import torch.nn.functional as F

from coordgan.ops import canonical_grid
from coordgan.registry import FEATURE_EXTRACTORS
from .base import BaseCorrespondence


@FEATURE_EXTRACTORS.register_module()
class CopyReferenceMask(BaseCorrespondence):
    """Descriptor = the pixel's own position: the reference mask is copied unchanged.

    Its dense matches are the identity (every pixel matches the same pixel),
    the trivial row of the correspondence metric. ``input_size`` only sets
    the grid the identity matches are computed on; the labels are copied at
    full resolution.
    """

    display_name = 'copy reference mask (identity match)'

    def __init__(self, input_size: int = 128, tau: float = 1e-4):
        super().__init__(input_size, tau)

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        b, _, h, w = images.shape
        if h != w:
            raise ValueError(f'square images expected, got {h}x{w}')
        return canonical_grid(self.input_size, images.device).expand(
            b, -1, -1, -1)

    def propagate(self, query: torch.Tensor, ref: torch.Tensor,
                  ref_labels: torch.Tensor) -> torch.Tensor:
        """The reference's soft labels, unchanged (B, K, h', w')."""
        return ref_labels


@FEATURE_EXTRACTORS.register_module()
class RawPixelNearestNeighbour(BaseCorrespondence):
    """Descriptor = the RGB value at ``input_size``; each query pixel takes the label of the nearest-coloured reference pixel."""

    display_name = 'nearest neighbour on raw pixels'

    def __init__(self, input_size: int = 128, tau: float = 1e-4):
        super().__init__(input_size, tau)

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] == self.input_size:
            return images
        return F.interpolate(images, size=(self.input_size,) * 2,
                             mode='bilinear', align_corners=False,
                             antialias=True)
