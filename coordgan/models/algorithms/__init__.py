from .coordgan import CoordGAN
from .coordgan_inversion import CoordGANInversion, load_stage1_generator
from .label_propagation import (LabelPropagationModel,
                                PropagationDataPreprocessor)
from .random_stream import RandomStreamMixin

__all__ = [
    'CoordGAN', 'CoordGANInversion', 'load_stage1_generator',
    'LabelPropagationModel', 'PropagationDataPreprocessor', 'RandomStreamMixin'
]
