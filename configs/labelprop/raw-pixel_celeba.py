# tools/test.py configs/labelprop/raw-pixel_celeba.py
_base_ = [
    '../_base_/models/labelprop_raw-pixel.py',
    '../_base_/datasets/labelprop_celeba.py', '../_base_/labelprop_runtime.py'
]
