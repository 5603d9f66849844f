"""Pieces shared by the training models."""
import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper

# uint8 BGR images from the data pipeline -> RGB in [-1, 1].
IMAGE_PREPROCESSOR = dict(type='ImgDataPreprocessor', mean=[127.5] * 3,
                          std=[127.5] * 3, bgr_to_rgb=True)


def fp32(device: torch.device):
    """Autocast off: gradient penalties lose too much in half precision."""
    return torch.autocast(device.type, enabled=False)


def unwrap(module: nn.Module) -> nn.Module:
    """The network inside a (distributed) model wrapper."""
    return module.module if is_model_wrapper(module) else module
