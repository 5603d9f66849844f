from .base import PHASES, BaseLoss, StepOutputs
from .coordgan_losses import (ChamferLoss, CycleLoss, ImageDistanceLoss,
                              StructureDiversityLoss, TextureSwapLoss,
                              WarpLoss)
from .edge_distance import EdgeDistance
from .inversion_losses import (EquivarianceLoss, InversionTextureSwapLoss,
                               L1Distance, LatentCodeLoss, LatentCoordsLoss,
                               ReconstructionLoss)
from .gan_losses import (AdversarialLoss, GANLoss, PatchR1Regularization,
                         R1Regularization, StructureSwapLoss,
                         discriminator_logistic_loss,
                         generator_nonsaturating_loss, patch_logits,
                         r1_penalty)
from .perceptual import LPIPS, MissingBackboneError
from .ramps import check_ramp, ramp_factor

__all__ = [
    'PHASES', 'BaseLoss', 'StepOutputs', 'ChamferLoss', 'CycleLoss',
    'EdgeDistance', 'ImageDistanceLoss', 'StructureDiversityLoss',
    'TextureSwapLoss', 'WarpLoss',
    'AdversarialLoss', 'GANLoss', 'PatchR1Regularization', 'R1Regularization',
    'StructureSwapLoss', 'discriminator_logistic_loss',
    'generator_nonsaturating_loss', 'patch_logits', 'r1_penalty', 'LPIPS',
    'MissingBackboneError',
    'check_ramp', 'ramp_factor', 'InversionTextureSwapLoss', 'L1Distance',
    'EquivarianceLoss', 'LatentCodeLoss', 'LatentCoordsLoss',
    'ReconstructionLoss'
]
