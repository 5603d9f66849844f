from .coordgan import CoordGAN
from .coordgan_inversion import CoordGANInversion, load_stage1_generator
from .ema import HalfLifeEMA, half_life_momentum
from .fine_tuning import (LoadReport, PartialPretrained, freeze_parameters,
                          load_matching_weights)
from .label_propagation import (LabelPropagationModel,
                                PropagationDataPreprocessor)
from .nonfinite import SkipNonFiniteMixin, guarded_update
from .random_stream import RandomStreamMixin

__all__ = [
    'CoordGAN', 'CoordGANInversion', 'load_stage1_generator', 'HalfLifeEMA',
    'half_life_momentum',
    'freeze_parameters', 'load_matching_weights', 'LoadReport',
    'PartialPretrained',
    'LabelPropagationModel', 'PropagationDataPreprocessor', 'RandomStreamMixin',
    'SkipNonFiniteMixin', 'guarded_update'
]
