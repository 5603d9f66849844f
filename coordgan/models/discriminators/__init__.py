from .base import BaseDiscriminator
from .patch_discriminator import PatchCooccurrenceDiscriminator
from .stylegan2_discriminator import StyleGAN2Discriminator

__all__ = [
    'BaseDiscriminator', 'PatchCooccurrenceDiscriminator',
    'StyleGAN2Discriminator'
]
