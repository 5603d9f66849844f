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


def keep_out_of_checkpoints(model: nn.Module, name: str) -> None:
    """Leave ``model.<name>`` (frozen, rebuilt the same at every construction) out of its state dict.

    The LPIPS net is such a part: its weights come from files (ImageNet
    backbone, the ``lpips`` package's linear layers) or from a fixed seed
    (the stand-in), never from training, and they were 14.7M of the 15.8M
    values of a synthetic stage-1 or encoder checkpoint (files of 71 MB
    instead of 12 with the optimizer's state). ``state_dict()`` (what mmengine saves) leaves ``<name>.*`` out;
    loading takes the part as built, so checkpoints without it load
    strictly, and ``<name>.*`` entries of checkpoints written before this
    are ignored.
    """
    own = name + '.'

    def drop(module, state_dict, prefix, local_metadata):
        for key in [k for k in state_dict if k.startswith(prefix + own)]:
            del state_dict[key]

    def keep_built(module, state_dict, prefix, local_metadata, strict,
                   missing_keys, unexpected_keys, error_msgs):
        for key in [k for k in state_dict if k.startswith(prefix + own)]:
            del state_dict[key]
        for key, value in getattr(module, name).state_dict().items():
            state_dict[prefix + own + key] = value

    model.register_state_dict_post_hook(drop)
    model.register_load_state_dict_pre_hook(keep_built)
