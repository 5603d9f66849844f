"""LPIPS from the ``lpips`` package, frozen, in eval mode, loadable offline."""
import os.path as osp
import warnings
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log

from coordgan.registry import LOSSES

# torchvision's file names for the ImageNet backbones LPIPS uses, as found
# under $TORCH_HOME/hub/checkpoints after a normal download.
TORCHVISION_FILES = {
    'vgg': 'vgg16-397923af.pth',
    'alex': 'alexnet-owt-7be5be79.pth',
    'squeeze': 'squeezenet1_1-b8a52dc0.pth',
}
STAND_IN_SEED = 2022


def torch_hub_checkpoint(filename: str) -> str:
    """Path of ``filename`` in torch's hub checkpoint cache ($TORCH_HOME/hub/checkpoints)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints', filename)


def _backbone_state(lpips_net: nn.Module, torchvision_state: dict) -> dict:
    """Rename torchvision ``features.<i>.*`` keys to LPIPS's ``slice<k>.<i>.*``."""
    slice_of = {}
    for name, _ in lpips_net.named_modules():
        parts = name.split('.')
        if len(parts) == 2 and parts[0].startswith('slice'):
            slice_of[parts[1]] = parts[0]
    renamed = {}
    for key, value in torchvision_state.items():
        parts = key.split('.')
        if parts[0] == 'features' and parts[1] in slice_of:
            renamed['.'.join([slice_of[parts[1]], *parts[1:]])] = value
    return renamed


@LOSSES.register_module()
class LPIPS(nn.Module):
    """LPIPS distance (B, 3, H, W) x2 in [-1, 1] -> (B,), always frozen and in eval mode.

    Backbone weights come from ``backbone_weights`` (a torchvision state-dict
    file) or torchvision's cache ($TORCH_HOME/hub/checkpoints/<real name>).
    Nothing is ever downloaded: if neither exists, a seeded random backbone
    stands in and a warning says so (values are then not comparable with
    published LPIPS numbers; training still gets a fixed perceptual-like
    distance). ``linear_weights`` defaults to the file shipped with ``lpips``.
    """

    def __init__(self,
                 net: str = 'vgg',
                 version: str = '0.1',
                 backbone_weights: Optional[str] = None,
                 linear_weights: Optional[str] = None,
                 random_backbone: bool = False):
        super().__init__()
        import lpips
        if net not in TORCHVISION_FILES:
            raise ValueError(f'LPIPS net must be one of '
                             f'{sorted(TORCHVISION_FILES)}, got {net!r}')
        if linear_weights is not None and not osp.isfile(linear_weights):
            raise FileNotFoundError(
                f'LPIPS linear_weights {linear_weights!r} does not exist')
        # pnet_rand=True: lpips must not ask torchvision to download. It
        # still passes torchvision's deprecated `pretrained=False`.
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            torch.manual_seed(STAND_IN_SEED)
            self.model = lpips.LPIPS(net=net, version=version, pnet_rand=True,
                                     model_path=linear_weights, verbose=False)
        self.backbone_source = self._load_backbone(net, backbone_weights,
                                                   random_backbone)
        self.requires_grad_(False)
        self.eval()

    def _load_backbone(self, net: str, path: Optional[str],
                       random_backbone: bool) -> str:
        if random_backbone:
            return 'random (seeded, requested)'
        if path is None:
            path = torch_hub_checkpoint(TORCHVISION_FILES[net])
            if not osp.isfile(path):
                print_log(
                    f'LPIPS: ImageNet {net} weights not found at {path} and '
                    'nothing is downloaded here; using a seeded random '
                    'backbone as a stand-in. Put the torchvision file there '
                    '(or set backbone_weights) for real LPIPS values.',
                    logger='current', level=30)
                return 'random (seeded stand-in, weights missing)'
        elif not osp.isfile(path):
            raise FileNotFoundError(
                f'LPIPS backbone_weights {path!r} does not exist')
        state = torch.load(path, map_location='cpu', weights_only=True)
        renamed = _backbone_state(self.model.net, state)
        missing, _ = self.model.net.load_state_dict(renamed, strict=False)
        if missing or not renamed:
            raise ValueError(
                f'{path}: not a torchvision {net} state dict (missing '
                f'{missing[:4] if missing else "every feature key"})')
        return path

    def train(self, mode: bool = True) -> 'LPIPS':
        # Dropout in the linear heads must never switch on (the reference
        # code left it on during training).
        return super().train(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.model(x, y).flatten()

    def extra_repr(self) -> str:
        return f'backbone={self.backbone_source}'

