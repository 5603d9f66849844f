from .formatting import PackImageInputs
from .loading import LoadSegMap

__all__ = ['PackImageInputs', 'LoadSegMap']
