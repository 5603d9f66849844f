"""LPIPS from the ``lpips`` package, frozen, in eval mode, loadable offline."""
import logging
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
TORCHVISION_MODELS = {'vgg': 'vgg16', 'alex': 'alexnet',
                      'squeeze': 'squeezenet1_1'}
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


STAND_IN_SOURCE = 'seeded random stand-in'
SWITCH = ('allow_random_backbone=True in the LPIPS config (e.g. '
          '--cfg-options model.perceptual.allow_random_backbone=True)')


class MissingBackboneError(FileNotFoundError):
    """LPIPS's ImageNet backbone weights are not there and the stand-in was not allowed."""


def lpips_backbone_path(net: str = 'vgg',
                        backbone_weights: Optional[str] = None,
                        random_backbone: bool = False,
                        allow_random_backbone: bool = False
                        ) -> Optional[str]:
    """The backbone weights file LPIPS will load, or None for the seeded random backbone.

    Raises :class:`MissingBackboneError` naming the file it looked for when
    the weights are missing and neither ``random_backbone`` nor
    ``allow_random_backbone`` is set: a random VGG gives distances that are
    not LPIPS, so a paper config must not train on one by accident.
    """
    if net not in TORCHVISION_FILES:
        raise ValueError(f'LPIPS net must be one of '
                         f'{sorted(TORCHVISION_FILES)}, got {net!r}')
    if random_backbone:
        return None
    if backbone_weights is not None:
        if not osp.isfile(backbone_weights):
            raise FileNotFoundError(
                f'LPIPS backbone_weights {backbone_weights!r} does not exist')
        return backbone_weights
    path = torch_hub_checkpoint(TORCHVISION_FILES[net])
    if osp.isfile(path) or allow_random_backbone:
        return path if osp.isfile(path) else None
    raise MissingBackboneError(
        f'LPIPS: the ImageNet {net} weights are not at {path} and nothing '
        'is downloaded here. Put torchvision\'s file there (torchvision.'
        f'models.{TORCHVISION_MODELS[net]}(weights=\'IMAGENET1K_V1\') '
        'downloads it there on a machine with internet), or set '
        f'backbone_weights=\'path/{TORCHVISION_FILES[net]}\'; to train on '
        f'a seeded random backbone instead (LPIPS values then not '
        f'comparable with published numbers), set {SWITCH}')


@LOSSES.register_module()
class LPIPS(nn.Module):
    """LPIPS distance (B, 3, H, W) x2 in [-1, 1] -> (B,), always frozen and in eval mode.

    Backbone weights come from ``backbone_weights`` (a torchvision state-dict
    file) or torchvision's cache ($TORCH_HOME/hub/checkpoints/<real name>).
    Nothing is ever downloaded. If neither file exists, building fails,
    naming the file, unless ``allow_random_backbone=True`` (the small
    synthetic configs): then a seeded random backbone stands in, with a
    warning (values are not comparable with published LPIPS numbers;
    training still gets a fixed perceptual-like distance).
    ``random_backbone=True`` always uses the seeded random backbone (tests).
    Which backbone is used is logged when the module is built, so it is in
    the first lines of a run's log. ``linear_weights`` defaults to the file
    shipped with ``lpips``.
    """

    def __init__(self,
                 net: str = 'vgg',
                 version: str = '0.1',
                 backbone_weights: Optional[str] = None,
                 linear_weights: Optional[str] = None,
                 random_backbone: bool = False,
                 allow_random_backbone: bool = False):
        super().__init__()
        import lpips
        if linear_weights is not None and not osp.isfile(linear_weights):
            raise FileNotFoundError(
                f'LPIPS linear_weights {linear_weights!r} does not exist')
        path = lpips_backbone_path(net, backbone_weights, random_backbone,
                                   allow_random_backbone)
        # pnet_rand=True: lpips must not ask torchvision to download. It
        # still passes torchvision's deprecated `pretrained=False`.
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            torch.manual_seed(STAND_IN_SEED)
            self.model = lpips.LPIPS(net=net, version=version, pnet_rand=True,
                                     model_path=linear_weights, verbose=False)
        if path is not None:
            self._load_backbone(net, path)
            self.backbone_source = path
            print_log(f'LPIPS backbone: ImageNet {net} weights from {path}',
                      logger='current', level=logging.INFO)
        elif random_backbone:
            self.backbone_source = f'{STAND_IN_SOURCE} (random_backbone=True)'
            print_log(f'LPIPS backbone: {self.backbone_source}',
                      logger='current', level=logging.INFO)
        else:
            looked = torch_hub_checkpoint(TORCHVISION_FILES[net])
            self.backbone_source = (f'{STAND_IN_SOURCE} (no weights at '
                                    f'{looked}; allow_random_backbone=True)')
            print_log(
                f'LPIPS backbone: {self.backbone_source}. LPIPS values are not '
                'comparable with published numbers; put torchvision\'s file '
                'there (or set backbone_weights) for real LPIPS.',
                logger='current', level=logging.WARNING)
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def preflight(cfg: dict) -> None:
        """Fail before anything is built if this LPIPS config would fail to find its weights."""
        linear = cfg.get('linear_weights')
        if linear is not None and not osp.isfile(linear):
            raise FileNotFoundError(
                f'LPIPS linear_weights {linear!r} does not exist')
        keys = ('net', 'backbone_weights', 'random_backbone',
                'allow_random_backbone')
        lpips_backbone_path(**{k: cfg[k] for k in keys if k in cfg})

    def _load_backbone(self, net: str, path: str) -> None:
        state = torch.load(path, map_location='cpu', weights_only=True)
        renamed = _backbone_state(self.model.net, state)
        missing, _ = self.model.net.load_state_dict(renamed, strict=False)
        if missing or not renamed:
            raise ValueError(
                f'{path}: not a torchvision {net} state dict (missing '
                f'{missing[:4] if missing else "every feature key"})')

    def train(self, mode: bool = True) -> 'LPIPS':
        # Dropout in the linear heads must never switch on (the reference
        # code left it on during training).
        return super().train(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.model(x, y).flatten()

    def extra_repr(self) -> str:
        return f'backbone={self.backbone_source}'

