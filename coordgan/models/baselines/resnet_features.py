"""ResNet-50 "res-block 4" features (torchvision ``layer3``) for label propagation.

The paper's Table 1 compares CoordGAN with frozen ResNet-50 features (ImageNet, MoCo v2,
VFS) under one protocol: input 128, layer3 features (output stride 16, 8 x 8 cells),
nearest-neighbour propagation by cosine similarity. VFS's own protocol (layer3 with stride
1, i.e. output stride 8, and top-10 propagation with temperature 0.07) is a config switch.
:class:`ResNet50FeatureBaseline` holds everything but the checkpoint format; each
registered subclass only says which file it reads and how its keys map to torchvision's.
"""
import os.path as osp
import pickle
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from coordgan.ops import resize_to, topk_propagation, topk_similarity
from coordgan.registry import FEATURE_EXTRACTORS
from ..correspondence import BaseCorrespondence
from ..losses.perceptual import torch_hub_checkpoint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Same seed for every build, so random-weight baselines give the same numbers each run.
RANDOM_WEIGHTS_SEED = 2022
PROPAGATIONS = ('nearest', 'topk')
OUT_STRIDES = (8, 16)
TRUNK = ('conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3')
# Keys of the full network that the truncated trunk does not have.
DROPPED_PREFIXES = ('layer4.', 'fc.')
_MAX_LISTED_KEYS = 8


class ResNet50Trunk(nn.Module):
    """torchvision's ResNet-50 up to ``layer3``, under torchvision's parameter names.

    (B, 3, H, W) ImageNet-normalised -> (B, 1024, H / out_stride, W / out_stride).
    ``out_stride=8`` gives layer3's first block stride 1 (3x3 conv and shortcut), without
    dilation, as VFS's test protocol does.
    """

    def __init__(self, out_stride: int = 16):
        super().__init__()
        net = torchvision.models.resnet50(weights=None)
        for name in TRUNK:
            self.add_module(name, getattr(net, name))
        if out_stride == 8:
            first = self.layer3[0]
            first.conv2.stride = (1, 1)
            first.downsample[0].stride = (1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in TRUNK:
            x = getattr(self, name)(x)
        return x


def _flat(x: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, h * w, C), positions in row-major order."""
    return x.flatten(2).transpose(1, 2)


def labels_to_grid(labels: torch.Tensor, size) -> torch.Tensor:
    """(B, K, H, W) soft labels -> (B, K, *size): area average when shrinking, else bilinear."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    if labels.shape[-2] >= size[0] and labels.shape[-1] >= size[1]:
        # Averaging keeps each class's share of a cell; bilinear sampling would read only
        # a few label pixels per 16 x 16 cell.
        return F.adaptive_avg_pool2d(labels, size)
    return F.interpolate(labels, size=size, mode='bilinear', align_corners=False)


def _listed(keys: List[str]) -> str:
    shown = ', '.join(keys[:_MAX_LISTED_KEYS])
    more = len(keys) - _MAX_LISTED_KEYS
    return shown + (f', ... ({more} more)' if more > 0 else '') if keys else '(none)'


def _guess_format(loaded: dict) -> Optional[Tuple[str, str]]:
    """-> (what the file looks like, the extractor that reads it), or None."""
    inner = loaded.get('state_dict')
    keys = list(inner if isinstance(inner, dict) else loaded)
    if any(str(k).startswith('module.encoder_q.') for k in keys):
        return 'a MoCo training checkpoint', 'MoCoFeatures'
    if any(str(k).startswith('backbone.') for k in keys):
        return 'an mmaction (VFS) training checkpoint', 'VFSFeatures'
    if isinstance(inner, dict) and 'conv1.weight' in inner:
        return 'a converted VFS backbone checkpoint', 'VFSFeatures'
    if 'conv1.weight' in loaded:
        return "torchvision's plain ResNet state dict", 'ResNet50Features'
    return None


class ResNet50FeatureBaseline(BaseCorrespondence):
    """Frozen ResNet-50 layer3 features, L2-normalised over channels, compared by cosine similarity.

    ``describe``: images (B, 3, S, S) in [-1, 1] are resized to ``input_size``, mapped to
    [0, 1] and ImageNet-normalised -> (B, 1024, input_size / out_stride, ...), unit length
    along channels.

    ``propagation='nearest'`` (the paper's baselines): each query cell takes the soft label
    of its most similar reference cell. ``propagation='topk'`` (VFS): softmax(sim /
    ``temperature``) over the ``topk`` most similar reference cells weights their soft
    labels. Reference labels are area-averaged to the descriptor grid first.

    ``match`` confidence: for 'topk' the probability of the best cell under that top-k
    softmax; for 'nearest' the best cosine mapped to [0, 1] as (1 + cos) / 2.

    Weights: ``checkpoint`` (a local file), else ``default_checkpoint`` in
    torch.hub.get_dir()/checkpoints ($TORCH_HOME/hub/checkpoints). Nothing is downloaded;
    a missing file is a FileNotFoundError unless ``random_weights=True`` (seeded, the same
    weights every build). Subclasses define the file format in :meth:`convert_checkpoint`.
    """

    method_name = 'ResNet50'
    weights_name = 'ImageNet'
    random_seed = RANDOM_WEIGHTS_SEED
    default_checkpoint = ''
    checkpoint_url = ''
    checkpoint_format = ''

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 input_size: int = 128,
                 out_stride: int = 16,
                 propagation: str = 'nearest',
                 topk: int = 10,
                 temperature: float = 0.07,
                 random_weights: bool = False,
                 chunk_size: Optional[int] = None):
        super().__init__(input_size)
        name = type(self).__name__
        if out_stride not in OUT_STRIDES:
            raise ValueError(f'{name}: out_stride must be one of {OUT_STRIDES}, got {out_stride!r}')
        if propagation not in PROPAGATIONS:
            raise ValueError(f'{name}: propagation must be one of {PROPAGATIONS}, got {propagation!r}')
        if not isinstance(topk, int) or topk < 1:
            raise ValueError(f'{name}: topk must be a positive int, got {topk!r}')
        if not temperature > 0:
            raise ValueError(f'{name}: temperature must be > 0, got {temperature!r}')
        if random_weights and checkpoint is not None:
            raise ValueError(f'{name}: random_weights=True and checkpoint={checkpoint!r} '
                             'contradict each other; set only one')
        self.out_stride = out_stride
        self.propagation = propagation
        self.topk = topk
        self.temperature = temperature
        self.random_weights = bool(random_weights)
        self.chunk_size = chunk_size
        # Forked so that building a baseline neither depends on nor moves the global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_seed)
            self.backbone = ResNet50Trunk(out_stride)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if self.random_weights:
            self.weights_source = f'random (seed {self.random_seed})'
        else:
            path = self.resolve_checkpoint(checkpoint)
            self.load_backbone(path)
            self.weights_source = path
        self.requires_grad_(False)
        self.eval()

    @property
    def display_name(self) -> str:
        """Row name for tables, e.g. 'ResNet50 (ImageNet)' or 'ResNet50 (random weights)'."""
        weights = 'random weights' if self.random_weights else self.weights_name
        return f'{self.method_name} ({weights})'

    # ------------------------------------------------------------------ weights
    def resolve_checkpoint(self, checkpoint: Optional[str]) -> str:
        """-> the local weights file: ``checkpoint`` or the torch hub cache; FileNotFoundError if absent."""
        cached = torch_hub_checkpoint(self.default_checkpoint)
        path = osp.expanduser(checkpoint) if checkpoint is not None else cached
        if osp.isfile(path):
            return path
        missing = (f'checkpoint={checkpoint!r} does not exist' if checkpoint is not None
                   else f'no checkpoint was given and {cached} does not exist')
        raise FileNotFoundError(
            f'{type(self).__name__}: {self.display_name} weights not found: {missing}. '
            f'Nothing is downloaded. Get {self.default_checkpoint} ({self.checkpoint_url}) and '
            f'either put it at {cached} (torch.hub.get_dir()/checkpoints, i.e. '
            f'$TORCH_HOME/hub/checkpoints) or set checkpoint=<local path> in the extractor '
            'config; random_weights=True runs the baseline with seeded random weights instead.')

    def convert_checkpoint(self, loaded: dict) -> Tuple[Dict[str, torch.Tensor], List[str]]:
        """What torch.load returned -> (state dict under torchvision names, foreign keys of the file).

        Foreign keys are keys that do not belong to this format; they are reported as
        unexpected. Keys of layer4 and fc may be kept: the caller drops them.
        """
        raise NotImplementedError

    def load_backbone(self, path: str) -> None:
        """Load the trunk from ``path`` (strict after conversion); ValueError naming the keys if it does not fit."""
        name = type(self).__name__
        try:
            loaded = torch.load(path, map_location='cpu', weights_only=True)
        except pickle.UnpicklingError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(
                f'{name}: {path} holds more than plain tensors, so it is not '
                f'{self.checkpoint_format} ({reason}). Loading it would need full unpickling, '
                'which can run code from the file and is not done here.') from None
        except (RuntimeError, EOFError) as err:
            raise ValueError(f'{name}: {path} is not a readable torch file ({err}); expected '
                             f'{self.checkpoint_format}') from None
        if not isinstance(loaded, dict):
            raise ValueError(f'{name}: {path} holds a {type(loaded).__name__}, expected '
                             f'{self.checkpoint_format}')
        state, foreign = self.convert_checkpoint(loaded)
        state = {k: v for k, v in state.items() if not k.startswith(DROPPED_PREFIXES)}
        expected = self.backbone.state_dict()
        # num_batches_tracked only counts training steps; older files lack it and eval ignores it.
        missing = [k for k in expected if k not in state and not k.endswith('num_batches_tracked')]
        unexpected = list(foreign) + [k for k in state if k not in expected]
        if missing or unexpected:
            msg = (f'{name}: {path} is not {self.checkpoint_format}. After conversion to '
                   f'torchvision names, {len(missing)} of the {len(expected)} keys the trunk '
                   f'needs are missing: {_listed(missing)}; {len(unexpected)} keys are '
                   f'unexpected: {_listed(unexpected)}.')
            guess = _guess_format(loaded)
            if guess is not None and guess[1] != name:
                msg += f' The file looks like {guess[0]}; {guess[1]} reads that.'
            raise ValueError(msg)
        wrong = [f'{k} {tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__} '
                 f'(expected {tuple(expected[k].shape)})'
                 for k, v in state.items()
                 if not isinstance(v, torch.Tensor) or v.shape != expected[k].shape]
        if wrong:
            raise ValueError(f'{name}: {path} has tensors of the wrong shape for ResNet-50: '
                             f'{_listed(wrong)}')
        self.backbone.load_state_dict({**expected, **state}, strict=True)

    # ------------------------------------------------------------------ correspondence
    def train(self, mode: bool = True) -> 'ResNet50FeatureBaseline':
        # The backbone is frozen: batch norm must keep its running statistics.
        return super().train(False)

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [-1, 1] -> (B, 1024, input_size / out_stride, input_size / out_stride), unit length over channels."""
        x = resize_to(images.to(self.mean.dtype), self.input_size)
        x = ((x + 1) / 2 - self.mean) / self.std
        return F.normalize(self.backbone(x), dim=1)

    @property
    def _k(self) -> int:
        return 1 if self.propagation == 'nearest' else self.topk

    def propagate(self, query: torch.Tensor, ref: torch.Tensor,
                  ref_labels: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w), (B, D, h', w'), (B, K, H', W') soft labels -> (B, K, h, w) soft labels."""
        batch, _, height, width = query.shape
        ref_labels = labels_to_grid(ref_labels, ref.shape[-2:])
        out = topk_propagation(_flat(F.normalize(query, dim=1)), _flat(F.normalize(ref, dim=1)),
                               _flat(ref_labels), self._k, self.temperature, self.chunk_size)
        return out.transpose(1, 2).reshape(batch, -1, height, width)

    def match(self, query: torch.Tensor,
              ref: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, D, h, w), (B, D, h', w') -> (x, y) of the most similar ref cell (B, h, w, 2), confidence (B, h, w) in [0, 1].

        Cell centres are at integers 0..w'-1 / 0..h'-1. Confidence: see the class docstring.
        """
        batch, _, height, width = query.shape
        sims, indices = topk_similarity(_flat(F.normalize(query, dim=1)),
                                        _flat(F.normalize(ref, dim=1)), self._k,
                                        self.chunk_size)
        best = indices[..., 0]
        ref_width = ref.shape[-1]
        pos = torch.stack((best % ref_width, best // ref_width), dim=-1).to(sims.dtype)
        if self.propagation == 'nearest':
            confidence = ((1 + sims[..., 0]) / 2).clamp(0, 1)
        else:
            confidence = torch.softmax(sims / self.temperature, dim=-1)[..., 0]
        return pos.reshape(batch, height, width, 2), confidence.reshape(batch, height, width)

    def extra_repr(self) -> str:
        return (f'weights={self.weights_source}, input_size={self.input_size}, '
                f'out_stride={self.out_stride}, propagation={self.propagation!r}' +
                (f', topk={self.topk}, temperature={self.temperature}'
                 if self.propagation == 'topk' else ''))


@FEATURE_EXTRACTORS.register_module()
class ResNet50Features(ResNet50FeatureBaseline):
    """ImageNet-supervised ResNet-50 (torchvision IMAGENET1K_V1), layer3 features.

    File: torchvision's plain state dict ``resnet50-0676ba61.pth``.
    """

    method_name = 'ResNet50'
    weights_name = 'ImageNet'
    default_checkpoint = 'resnet50-0676ba61.pth'
    checkpoint_url = 'https://download.pytorch.org/models/resnet50-0676ba61.pth'
    checkpoint_format = "torchvision's plain ResNet-50 state dict"

    def convert_checkpoint(self, loaded):
        # Already under torchvision names; a wrapped file ('state_dict', 'meta', ...) shows
        # its top-level keys as unexpected.
        return dict(loaded), []
