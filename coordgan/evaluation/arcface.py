"""ArcFace identity embeddings: the IR-SE50 network of pSp's ID loss, weights read from a local file only."""
import os.path as osp
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

# The file pSp's README lists as "IR-SE50 Model" (TreB1eN's InsightFace_Pytorch
# weights, used for pSp's ID loss); its state-dict keys are those of
# :class:`IRSE50` (input_layer.*, body.N.*, output_layer.*).
ARCFACE_WEIGHTS_FILE = 'model_ir_se50.pth'
ARCFACE_WEIGHTS_URL = ('https://drive.google.com/file/d/'
                       '1KW7bjndL3QG3sxBbZxreGHigcCCpsDgn/view')
EMBEDDING_DIM = 512
# (in channels, out channels, units) of the four IR-SE50 stages; the first
# unit of each stage has stride 2.
IRSE50_STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))
# pSp's ID loss reads the face from a 256 x 256 FFHQ-aligned image.
FACE_CROP_SIZE = 256
FACE_CROP = (slice(35, 223), slice(32, 220))  # rows, columns
INPUT_SIZE = 112


class MissingArcFaceWeightsError(FileNotFoundError):
    """The IR-SE50 weights file is not where the config says."""


def check_arcface_weights(path: str) -> None:
    """Raise :class:`MissingArcFaceWeightsError` naming ``path`` if it is not a file."""
    if path is None or not osp.isfile(path):
        raise MissingArcFaceWeightsError(
            f'ArcFace IR-SE50 weights not found at {path!r}; nothing is '
            f'downloaded here. Get {ARCFACE_WEIGHTS_FILE} (pSp\'s "IR-SE50 '
            f'Model", {ARCFACE_WEIGHTS_URL}) on a machine with internet and '
            'set the metric\'s arcface_weights to its path '
            '(docs/evaluation.md)')


class SqueezeExcitation(nn.Module):
    """Channel gates sigmoid(fc2(relu(fc1(avgpool(x))))) with 1x1 convs, no biases (reduction 16)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc2(self.relu(self.fc1(self.avg_pool(x))))
        return x * self.sigmoid(gate)


class IRSEUnit(nn.Module):
    """Pre-activation residual unit: BN, 3x3 conv, PReLU, strided 3x3 conv, BN, SE; plus the shortcut.

    The shortcut is a strided 1x1 max pool (a subsampling) when the width
    stays, else a strided 1x1 conv and BN.
    """

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        if in_channels == channels:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                nn.BatchNorm2d(channels))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(channels),
            SqueezeExcitation(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSE50(nn.Module):
    """IR-SE50 for 112 x 112 faces: (B, 3, 112, 112) in [-1, 1] -> L2-normalised (B, 512).

    The architecture of pSp's / TreB1eN's ``Backbone(input_size=112,
    num_layers=50, mode='ir_se')``, module for module, so its state dict
    (``model_ir_se50.pth``) loads with strict key matching.
    """

    def __init__(self, stages: Sequence[tuple] = IRSE50_STAGES,
                 drop_ratio: float = 0.6):
        super().__init__()
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
            nn.PReLU(64))
        units = []
        for in_channels, channels, num_units in stages:
            units.append(IRSEUnit(in_channels, channels, 2))
            units += [IRSEUnit(channels, channels, 1)
                      for _ in range(num_units - 1)]
        self.body = nn.Sequential(*units)
        side = INPUT_SIZE // 2**len(stages)
        width = stages[-1][1]
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(width), nn.Dropout(drop_ratio), nn.Flatten(),
            nn.Linear(width * side * side, EMBEDDING_DIM),
            nn.BatchNorm1d(EMBEDDING_DIM))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.output_layer(self.body(self.input_layer(x)))
        return F.normalize(out, dim=1)


def face_crop(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, 112, 112): pSp's ID-loss crop of the face from a 256 x 256 image.

    Brought to 256 x 256 by adaptive average pooling as pSp's ID loss does
    (its ``AdaptiveAvgPool2d((256, 256))``; a smaller image has its pixels
    repeated), cropped to rows 35:223 and columns 32:220, average-pooled to
    112 x 112.
    """
    if images.shape[-2:] != (FACE_CROP_SIZE, FACE_CROP_SIZE):
        images = F.adaptive_avg_pool2d(images,
                                       (FACE_CROP_SIZE, FACE_CROP_SIZE))
    face = images[:, :, FACE_CROP[0], FACE_CROP[1]]
    return F.adaptive_avg_pool2d(face, (INPUT_SIZE, INPUT_SIZE))


class ArcFace(nn.Module):
    """Face images (B, 3, H, W) in [-1, 1] -> identity embeddings (B, 512), unit length.

    The weights come from ``weights`` (the real ``model_ir_se50.pth``),
    never from the network; missing file: :class:`MissingArcFaceWeightsError`
    naming it. Faces are cropped as pSp's ID loss does (:func:`face_crop`).
    Always frozen and in eval mode.
    """

    def __init__(self, weights: str):
        super().__init__()
        check_arcface_weights(weights)
        self.net = IRSE50()
        state = torch.load(weights, map_location='cpu', weights_only=True)
        try:
            self.net.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f'{weights}: not an IR-SE50 state dict '
                             f'({str(err).splitlines()[0]})') from None
        self.weights = weights
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> 'ArcFace':
        # Batch-norm statistics and dropout are the network's, off for good.
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(face_crop(images.float()))

    def extra_repr(self) -> str:
        return f'weights={self.weights}'


def identity_distance(emb1: torch.Tensor, emb2: torch.Tensor) -> torch.Tensor:
    """1 - cosine of two batches of embeddings (B, D) -> (B,)."""
    return 1 - F.cosine_similarity(emb1, emb2, dim=1)
