from .base import BaseWarper
from .mlp_warper import MLPWarper
from .stn_warper import STNWarper
from .tps_warper import TPSWarper

__all__ = ['BaseWarper', 'MLPWarper', 'STNWarper', 'TPSWarper']
