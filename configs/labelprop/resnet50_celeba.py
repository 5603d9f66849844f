# tools/test.py configs/labelprop/resnet50_celeba.py
_base_ = [
    '../_base_/models/labelprop_resnet50.py',
    '../_base_/datasets/labelprop_celeba.py', '../_base_/labelprop_runtime.py'
]
