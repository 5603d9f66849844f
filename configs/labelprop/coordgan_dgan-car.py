# CoordGAN on the dgan-car benchmark with a checkpoint of the
# Stanford Cars encoder stage (configs/coordgan-encoder_cars.py):
#   python tools/test.py configs/labelprop/coordgan_dgan-car.py \
#       work_dirs/coordgan-encoder_cars/iter_200000.pth
_base_ = [
    '../_base_/models/labelprop_coordgan_128.py',
    '../_base_/datasets/labelprop_dgan-car.py', '../_base_/labelprop_runtime.py'
]
