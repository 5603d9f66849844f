from .formatting import PackImageInputs
from .loading import LoadCoordMap, LoadSegMap

__all__ = ['PackImageInputs', 'LoadCoordMap', 'LoadSegMap']
