# tools/test.py configs/labelprop/vfs_celeba.py
_base_ = [
    '../_base_/models/labelprop_vfs.py',
    '../_base_/datasets/labelprop_celeba.py', '../_base_/labelprop_runtime.py'
]
