from .formatting import PackImageInputs
from .loading import LoadCoordMap, LoadImageFromFile, LoadSegMap

__all__ = [
    'PackImageInputs', 'LoadCoordMap', 'LoadImageFromFile', 'LoadSegMap'
]
