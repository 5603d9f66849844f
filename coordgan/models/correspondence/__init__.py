from .base import BaseCorrespondence
from .coordgan_correspondence import CoordGANCorrespondence
from .trivial import CopyReferenceMask, RawPixelNearestNeighbour

__all__ = [
    'BaseCorrespondence', 'CoordGANCorrespondence', 'CopyReferenceMask',
    'RawPixelNearestNeighbour'
]
