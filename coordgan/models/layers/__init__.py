from .blur import Blur, Upsample
from .conv import ConvLayer, ResBlock
from .equalized import BiasLeakyReLU, EqualConv2d, EqualLinear, bias_leaky_relu
from .mapping import FourierFeatures, MappingNetwork, PixelNorm
from .modulated import ModulatedConv2d, NoiseInjection, StyledConv, ToRGB

__all__ = [
    'Blur', 'Upsample', 'ConvLayer', 'ResBlock', 'BiasLeakyReLU', 'EqualConv2d',
    'EqualLinear', 'bias_leaky_relu', 'FourierFeatures', 'MappingNetwork',
    'PixelNorm', 'ModulatedConv2d', 'NoiseInjection', 'StyledConv', 'ToRGB'
]
