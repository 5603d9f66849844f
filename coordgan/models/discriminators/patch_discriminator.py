"""The patch co-occurrence discriminator of the structure-swap loss."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from coordgan.ops import random_crops
from coordgan.ops.crops import SAMPLINGS
from coordgan.registry import DISCRIMINATORS
from ..layers import ConvLayer, EqualLinear, ResBlock
from .base import BaseDiscriminator


@DISCRIMINATORS.register_module()
class PatchCooccurrenceDiscriminator(BaseDiscriminator):
    """Is a target crop from the same image as a set of reference crops?

    Crops (``crop_size`` square) are encoded by a 3x3 conv, residual down
    blocks and an unpadded 3x3 conv into one vector each; the mean vector of
    an image's reference crops is concatenated with each target crop's
    vector and classified by two linears.

    Args:
        crop_size: side the crops are resampled to (32).
        channels: stem width then the output of each residual block
            ((64, 128, 256, 256): 32 -> 4 pixels, then 2x2x256 = 1024-d).
        hidden_dim: width of the classifier's hidden layer (1024).
        num_ref_crops, num_target_crops: crops per image (8 and 8).
        side_range: crop side as a fraction of the image side (1/8, 1/4).
        sampling: crop sampler of :func:`coordgan.ops.random_crops`:
            ``'authors'`` (default; positions ``linspace(-1, 1)`` times the
            side plus the offset, zero padding) or ``'affine'`` (the earlier
            ``affine_grid`` positions with border padding, to reproduce runs
            made with it).
    """

    def __init__(self,
                 crop_size: int = 32,
                 channels: Sequence[int] = (64, 128, 256, 256),
                 hidden_dim: int = 1024,
                 num_ref_crops: int = 8,
                 num_target_crops: int = 8,
                 side_range: Tuple[float, float] = (1 / 8, 1 / 4),
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 sampling: str = 'authors'):
        super().__init__()
        if sampling not in SAMPLINGS:
            raise ValueError(
                f'PatchCooccurrenceDiscriminator: sampling must be one of '
                f'{SAMPLINGS}, got {sampling!r}')
        num_down = len(channels) - 1
        feat_size = crop_size // 2**num_down - 2
        if feat_size < 1 or crop_size % 2**num_down:
            raise ValueError(
                f'crop_size={crop_size} is too small or not divisible for '
                f'{num_down} down blocks followed by an unpadded 3x3 conv')
        self.crop_size = crop_size
        self.num_ref_crops = num_ref_crops
        self.num_target_crops = num_target_crops
        self.side_range = tuple(side_range)
        self.sampling = sampling
        layers = [ConvLayer(3, channels[0], 3)]
        for cin, cout in zip(channels[:-1], channels[1:]):
            layers.append(ResBlock(cin, cout, blur_kernel))
        layers.append(ConvLayer(channels[-1], channels[-1], 3, padding=0))
        self.encoder = nn.Sequential(*layers)
        self.feature_dim = channels[-1] * feat_size**2
        self.classifier = nn.Sequential(
            EqualLinear(2 * self.feature_dim, hidden_dim, activation=True),
            EqualLinear(hidden_dim, 1))

    def sample_crops(self,
                     img: torch.Tensor,
                     num_crops: int,
                     generator: Optional[torch.Generator] = None
                     ) -> torch.Tensor:
        """(B, 3, H, W) -> (B, num_crops, 3, crop_size, crop_size)."""
        return random_crops(img, num_crops, self.crop_size, self.side_range,
                            flip=True, generator=generator,
                            sampling=self.sampling)

    def extract_features(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, N, 3, c, c) -> (B, N, feature_dim)."""
        b, n = crops.shape[:2]
        return self.encoder(crops.flatten(0, 1)).reshape(b, n, -1)

    def forward(self, target_crops: torch.Tensor,
                ref_crops: torch.Tensor) -> torch.Tensor:
        """(B, Nt, 3, c, c) targets, (B, Nr, 3, c, c) references -> (B, Nt) logits."""
        if target_crops.shape[0] != ref_crops.shape[0]:
            raise ValueError(
                f'target_crops and ref_crops must come from the same number '
                f'of images, got {target_crops.shape[0]} and '
                f'{ref_crops.shape[0]}')
        target = self.extract_features(target_crops)
        ref = self.extract_features(ref_crops).mean(dim=1, keepdim=True)
        pairs = torch.cat([ref.expand_as(target), target], dim=2)
        return self.classifier(pairs).squeeze(-1)
