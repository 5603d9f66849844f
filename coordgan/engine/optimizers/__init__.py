from .coordgan_constructor import (GANOptimWrapperConstructor,
                                   lazy_regularization_correction)

__all__ = ['GANOptimWrapperConstructor', 'lazy_regularization_correction']
