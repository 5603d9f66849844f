"""The encoder kind: image -> structure code and W+ texture codes."""
from abc import ABCMeta, abstractmethod
from typing import NamedTuple

import torch
import torch.nn as nn


class EncoderOutput(NamedTuple):
    """``w_s`` (B, style_dim); ``w_plus`` (B, num_latents, style_dim)."""
    w_s: torch.Tensor
    w_plus: torch.Tensor


class BaseEncoder(nn.Module, metaclass=ABCMeta):
    """Inverts a generator: codes that bypass the mapping networks."""

    @abstractmethod
    def forward(self, img: torch.Tensor) -> EncoderOutput:
        """(B, 3, S, S) in [-1, 1] -> (w_s, W+)."""
