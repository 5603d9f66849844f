# tools/test.py configs/labelprop/vfs_dgan-car.py
_base_ = [
    '../_base_/models/labelprop_vfs.py',
    '../_base_/datasets/labelprop_dgan-car.py', '../_base_/labelprop_runtime.py'
]
