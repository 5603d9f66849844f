from .base import BaseWarper
from .mlp_warper import MLPWarper

__all__ = ['BaseWarper', 'MLPWarper']
