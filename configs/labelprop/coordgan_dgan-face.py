# CoordGAN on the dgan-face benchmark with a checkpoint of the
# CelebA-HQ encoder stage (configs/coordgan-encoder_celeba.py):
#   python tools/test.py configs/labelprop/coordgan_dgan-face.py \
#       work_dirs/coordgan-encoder_celeba/iter_200000.pth
_base_ = [
    '../_base_/models/labelprop_coordgan_128.py',
    '../_base_/datasets/labelprop_dgan-face.py', '../_base_/labelprop_runtime.py'
]
