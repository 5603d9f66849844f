from .base import BaseEncoder, EncoderOutput
from .coordgan_encoder import CoordGANEncoder

__all__ = ['BaseEncoder', 'EncoderOutput', 'CoordGANEncoder']
