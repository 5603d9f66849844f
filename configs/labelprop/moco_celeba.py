# tools/test.py configs/labelprop/moco_celeba.py
_base_ = [
    '../_base_/models/labelprop_moco.py',
    '../_base_/datasets/labelprop_celeba.py', '../_base_/labelprop_runtime.py'
]
