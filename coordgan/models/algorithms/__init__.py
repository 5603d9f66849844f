from .coordgan import CoordGAN
from .coordgan_inversion import CoordGANInversion, load_stage1_generator
from .random_stream import RandomStreamMixin

__all__ = [
    'CoordGAN', 'CoordGANInversion', 'load_stage1_generator',
    'RandomStreamMixin'
]
