from .base import BaseLoss
from .coordgan_losses import (ChamferLoss, ImageDistanceLoss,
                              TextureSwapLoss, WarpLoss)
from .edge_distance import EdgeDistance
from .gan_losses import (GANLoss, R1Regularization,
                         discriminator_logistic_loss,
                         generator_nonsaturating_loss, r1_penalty)
from .perceptual import LPIPS
from .ramps import check_ramp, ramp_factor

__all__ = [
    'BaseLoss', 'ChamferLoss', 'EdgeDistance', 'ImageDistanceLoss',
    'TextureSwapLoss', 'WarpLoss', 'GANLoss',
    'R1Regularization', 'discriminator_logistic_loss',
    'generator_nonsaturating_loss', 'r1_penalty', 'LPIPS', 'check_ramp',
    'ramp_factor'
]
