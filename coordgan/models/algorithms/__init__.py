from .coordgan import CoordGAN

__all__ = ['CoordGAN']
