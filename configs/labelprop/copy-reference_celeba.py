# tools/test.py configs/labelprop/copy-reference_celeba.py
_base_ = [
    '../_base_/models/labelprop_copy-reference.py',
    '../_base_/datasets/labelprop_celeba.py', '../_base_/labelprop_runtime.py'
]
