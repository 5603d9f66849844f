"""The FID Inception network (pytorch-fid's architecture), weights read from a local file only."""
import os.path as osp

import torch
import torch.nn as nn
import torch.nn.functional as F

# The file pytorch-fid downloads (its FID_WEIGHTS_URL): TensorFlow's FID
# Inception graph of 2015-12-05 converted to a torchvision-style state dict.
FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth'
FID_WEIGHTS_URL = ('https://github.com/mseitzer/pytorch-fid/releases/'
                   'download/fid_weights/' + FID_WEIGHTS_FILE)
FEATURE_DIM = 2048


class MissingInceptionWeightsError(FileNotFoundError):
    """The FID Inception weights file is not where the config says."""


def build_fid_inception_v3() -> nn.Module:
    """torchvision's Inception v3 (1008 classes) with pytorch-fid's FID blocks, random weights."""
    from pytorch_fid.inception import (FIDInceptionA, FIDInceptionC,
                                       FIDInceptionE_1, FIDInceptionE_2,
                                       _inception_v3)
    net = _inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE_1(1280)
    net.Mixed_7c = FIDInceptionE_2(2048)
    return net


def check_inception_weights(path: str) -> None:
    """Raise :class:`MissingInceptionWeightsError` naming ``path`` if it is not a file."""
    if path is None or not osp.isfile(path):
        raise MissingInceptionWeightsError(
            f'FID Inception weights not found at {path!r}; nothing is '
            f'downloaded here. Get {FID_WEIGHTS_FILE} from {FID_WEIGHTS_URL} '
            'on a machine with internet (or from $TORCH_HOME/hub/checkpoints '
            'after a pytorch-fid run) and set the metric\'s '
            'inception_weights to its path (docs/evaluation.md)')


class FIDInception(nn.Module):
    """Images (B, 3, H, W) in [0, 1] -> pool3 features (B, 2048), as pytorch-fid computes them.

    Input is resized to 299x299 (bilinear, align_corners=False) and scaled to
    [-1, 1]; the weights come from ``weights`` (the real
    ``pt_inception-2015-12-05-6726825d.pth`` file), never from the network.
    Always frozen and in eval mode.
    """

    def __init__(self, weights: str):
        super().__init__()
        check_inception_weights(weights)
        net = build_fid_inception_v3()
        state = torch.load(weights, map_location='cpu', weights_only=True)
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f'{weights}: not a pytorch-fid Inception state '
                             f'dict ({str(err).splitlines()[0]})') from None
        self.weights = weights
        self.blocks = nn.Sequential(
            net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3,
            nn.MaxPool2d(kernel_size=3, stride=2),
            net.Conv2d_3b_1x1, net.Conv2d_4a_3x3,
            nn.MaxPool2d(kernel_size=3, stride=2),
            net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a,
            net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e,
            net.Mixed_7a, net.Mixed_7b, net.Mixed_7c,
            nn.AdaptiveAvgPool2d(1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> 'FIDInception':
        # Batch-norm statistics are the network's; they never update.
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images.float(), size=(299, 299), mode='bilinear',
                          align_corners=False)
        return self.blocks(2 * x - 1).flatten(1)

    def extra_repr(self) -> str:
        return f'weights={self.weights}'
