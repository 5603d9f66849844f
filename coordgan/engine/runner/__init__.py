from .propagation_loop import LabelPropagationTestLoop

__all__ = ['LabelPropagationTestLoop']
