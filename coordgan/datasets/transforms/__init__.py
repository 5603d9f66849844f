from .formatting import PackImageInputs

__all__ = ['PackImageInputs']
