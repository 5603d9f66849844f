"""MoCo v2 (ImageNet, self-supervised) ResNet-50 layer3 features."""
from coordgan.registry import FEATURE_EXTRACTORS
from .resnet_features import RANDOM_WEIGHTS_SEED, ResNet50FeatureBaseline

ENCODER_Q = 'module.encoder_q.'
# Parts of a MoCo training checkpoint that are not the query encoder's backbone: the
# momentum encoder and the negatives queue (the released file may or may not hold them).
TRAINING_ONLY = ('module.encoder_k.', 'module.queue')


@FEATURE_EXTRACTORS.register_module()
class MoCoFeatures(ResNet50FeatureBaseline):
    """MoCo v2 (800 epochs on ImageNet) ResNet-50, layer3 features.

    File: the released ``moco_v2_800ep_pretrain.pth.tar``, MoCo's training checkpoint
    ``{'epoch', 'arch', 'state_dict', 'optimizer'}`` whose ``state_dict`` keys are
    ``module.encoder_q.<torchvision name>``; the MLP projection head
    (``module.encoder_q.fc.0/fc.2``) is dropped.
    """

    method_name = 'MoCo v2'
    weights_name = 'ImageNet'
    # Random stand-ins differ between methods, as distinct networks would.
    random_seed = RANDOM_WEIGHTS_SEED + 1
    default_checkpoint = 'moco_v2_800ep_pretrain.pth.tar'
    checkpoint_url = ('https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v2_800ep/'
                      'moco_v2_800ep_pretrain.pth.tar')
    checkpoint_format = ("a MoCo v2 ResNet-50 checkpoint ({'state_dict': "
                         "{'module.encoder_q.*': ...}, 'arch': 'resnet50', ...})")

    def convert_checkpoint(self, loaded):
        state = loaded.get('state_dict')
        if not isinstance(state, dict):
            # Not a training checkpoint at all: every top-level key is foreign.
            return {}, [str(k) for k in loaded]
        arch = loaded.get('arch', 'resnet50')
        if arch != 'resnet50':
            raise ValueError(f'{type(self).__name__}: the checkpoint is a MoCo {arch!r} '
                             "model, expected arch 'resnet50'")
        converted, foreign = {}, []
        for key, value in state.items():
            if key.startswith(ENCODER_Q):
                name = key[len(ENCODER_Q):]
                if not name.startswith('fc.'):  # the projection head is not backbone
                    converted[name] = value
            elif not key.startswith(TRAINING_ONLY):
                foreign.append(key)
        return converted, foreign
