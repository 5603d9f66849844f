# CoordGAN on the celeba benchmark with a checkpoint of the
# CelebA-HQ encoder stage (configs/coordgan-encoder_celeba.py):
#   python tools/test.py configs/labelprop/coordgan_celeba.py \
#       work_dirs/coordgan-encoder_celeba/iter_200000.pth
_base_ = [
    '../_base_/models/labelprop_coordgan_128.py',
    '../_base_/datasets/labelprop_celeba.py', '../_base_/labelprop_runtime.py'
]
