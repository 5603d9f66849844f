"""The discriminator kind."""
from abc import ABCMeta, abstractmethod

import torch
import torch.nn as nn


class BaseDiscriminator(nn.Module, metaclass=ABCMeta):
    """A network scoring images (or crops of them) as real; outputs are logits."""

    @abstractmethod
    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Inputs -> real/fake logits."""
