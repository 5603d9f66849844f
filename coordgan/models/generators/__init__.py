from .base import BaseGenerator, GeneratorOutput
from .coordgan_generator import CoordGANGenerator, CoordSynthesisNetwork

__all__ = [
    'BaseGenerator', 'GeneratorOutput', 'CoordGANGenerator',
    'CoordSynthesisNetwork'
]
