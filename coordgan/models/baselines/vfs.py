"""VFS (Kinetics-400, self-supervised video frame-level similarity) ResNet-50 layer3 features."""
import re
from typing import Optional

from coordgan.registry import FEATURE_EXTRACTORS
from .resnet_features import RANDOM_WEIGHTS_SEED, ResNet50FeatureBaseline

# mmcv ConvModule names of mmaction's ResNet: a conv with its norm inside one module.
_STEM = re.compile(r'^conv1\.(conv|bn)\.(\w+)$')
_BLOCK = re.compile(r'^(layer\d+\.\d+)\.(conv\d|downsample)\.(conv|bn)\.(\w+)$')


def mmaction_to_torchvision(name: str) -> Optional[str]:
    """mmaction ResNet key (``backbone.`` stripped) -> torchvision key, or None if it is no ResNet key.

    conv1.conv -> conv1, conv1.bn -> bn1; layerL.B.convN.conv -> layerL.B.convN,
    layerL.B.convN.bn -> layerL.B.bnN; layerL.B.downsample.conv/bn -> downsample.0/1.
    """
    stem = _STEM.match(name)
    if stem:
        return f"{'conv1' if stem[1] == 'conv' else 'bn1'}.{stem[2]}"
    block = _BLOCK.match(name)
    if not block:
        return None
    prefix, module, part, param = block.groups()
    if module == 'downsample':
        return f"{prefix}.downsample.{0 if part == 'conv' else 1}.{param}"
    return f"{prefix}.{module if part == 'conv' else module.replace('conv', 'bn')}.{param}"


@FEATURE_EXTRACTORS.register_module()
class VFSFeatures(ResNet50FeatureBaseline):
    """VFS ResNet-50 (self-supervised on Kinetics-400), layer3 features.

    The VFS paper's own protocol is ``out_stride=8, propagation='topk', topk=10,
    temperature=0.07``; the CoordGAN paper's table uses the defaults (stride 16, nearest).

    Files, both mmcv checkpoints ``{'state_dict': ..., 'meta': ...}``:

    - the released ``r50_nc_sgd_cos_100e_r5_1xNx2_k400-d7ce3ad0.pth``: VFS's README calls
      it the converted "pretrain ckpt" that its test script loads as torchvision-style
      backbone weights, i.e. ``state_dict`` keys under torchvision names;
    - a VFS training checkpoint: ``backbone.``-prefixed keys under mmaction's ConvModule
      names (converted by :func:`mmaction_to_torchvision`); head keys are dropped.
    """

    method_name = 'VFS'
    weights_name = 'Kinetics'
    # Random stand-ins differ between methods, as distinct networks would.
    random_seed = RANDOM_WEIGHTS_SEED + 2
    default_checkpoint = 'r50_nc_sgd_cos_100e_r5_1xNx2_k400-d7ce3ad0.pth'
    checkpoint_url = ('https://github.com/xvjiarui/VFS/releases/download/v0.1-rc1/'
                      'r50_nc_sgd_cos_100e_r5_1xNx2_k400-d7ce3ad0.pth')
    checkpoint_format = ("a VFS ResNet-50 checkpoint ({'state_dict': ...} under torchvision "
                         "names, or mmaction names with a 'backbone.' prefix)")

    def convert_checkpoint(self, loaded):
        state = loaded.get('state_dict')
        if not isinstance(state, dict):
            # A plain state dict is torchvision's (or another tool's) file, not VFS's.
            return {}, [str(k) for k in loaded]
        if not any(key.startswith('backbone.') for key in state):
            return dict(state), []
        converted, foreign = {}, []
        for key, value in state.items():
            if not key.startswith('backbone.'):
                continue  # the SimSiam projection/prediction head
            name = mmaction_to_torchvision(key[len('backbone.'):])
            if name is None:
                foreign.append(key)
            else:
                converted[name] = value
        return converted, foreign
