"""A colour-blind structural distance: where the edges are, not what colour they have."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from coordgan.registry import LOSSES


@LOSSES.register_module()
class EdgeDistance(nn.Module):
    """Mean |E(x) - E(y)| of normalised edge-strength maps, (B, 3, H, W) x2 -> (B,).

    E(x) is the Sobel gradient magnitude over all colour channels (replicate
    padding), divided by its mean over the image, so that an image's colours
    and contrast do not count: only where its edges lie. ``scales`` averages
    the distance over the image and 2x average-pooled copies of it.

    It stands in for LPIPS in the texture-swap and warp losses (both compare
    images of different textures) where the ImageNet backbone is missing: a
    randomly initialised VGG ranks a change of colours about four times above
    a change of pose on the synthetic data (docs/structure_study.md), so
    under it those losses mostly measure colour and barely pose.
    """

    def __init__(self, scales: int = 2, eps: float = 1e-3):
        super().__init__()
        if scales < 1:
            raise ValueError(f'EdgeDistance scales must be >= 1, got {scales}')
        self.scales = scales
        self.eps = eps
        sobel = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
        self.register_buffer(
            'kernel', torch.stack([sobel, sobel.t()])[:, None] / 8,
            persistent=False)

    def edges(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, H, W) edge strength with mean 1 per image."""
        b, c, h, w = x.shape
        padded = F.pad(x.reshape(b * c, 1, h, w), (1, 1, 1, 1),
                       mode='replicate')
        grad = F.conv2d(padded, self.kernel.to(x.dtype))
        strength = grad.reshape(b, c * 2, h, w).pow(2).sum(1).add(
            self.eps**2).sqrt()
        return strength / strength.mean(dim=(1, 2), keepdim=True)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.ndim != 4:
            raise ValueError(
                'EdgeDistance expects two (B, C, H, W) batches of one shape, '
                f'got {tuple(x.shape)} and {tuple(y.shape)}')
        total = x.new_zeros(x.shape[0])
        for scale in range(self.scales):
            if scale:
                x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
            total = total + (self.edges(x) - self.edges(y)).abs().mean(
                dim=(1, 2))
        return total / self.scales

    def extra_repr(self) -> str:
        return f'scales={self.scales}, eps={self.eps}'
