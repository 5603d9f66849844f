"""Feature-propagation baselines of the paper's Table 1: frozen ResNet-50 layer3 features."""
from .moco import MoCoFeatures
from .resnet_features import (ResNet50FeatureBaseline, ResNet50Features,
                              ResNet50Trunk)
from .vfs import VFSFeatures, mmaction_to_torchvision

__all__ = [
    'ResNet50FeatureBaseline', 'ResNet50Features', 'ResNet50Trunk', 'MoCoFeatures',
    'VFSFeatures', 'mmaction_to_torchvision'
]
