"""CoordGAN: dense correspondences from a structure/texture GAN, on mmengine."""
from .utils.checkpoint import register_trusted_local_loader
from .version import __version__

# mmengine's own local loader cannot read its checkpoints on torch >= 2.6.
register_trusted_local_loader()

__all__ = ['__version__']
