"""The canonical coordinate frame."""
from typing import Optional

import torch


def canonical_grid(size: int,
                   device: Optional[torch.device] = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(1, 2, size, size) grid in [-1, 1], both ends included; channel 0 = x (width), 1 = y."""
    lin = torch.linspace(-1.0, 1.0, size, device=device, dtype=dtype)
    y, x = torch.meshgrid(lin, lin, indexing='ij')
    return torch.stack([x, y])[None]
