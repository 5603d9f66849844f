# CoordGAN encoder stage on Stanford Cars (200k iterations); its checkpoint is
# what the DatasetGAN-car label-propagation benchmark evaluates:
#   python tools/test.py configs/labelprop/coordgan_dgan-car.py \
#       work_dirs/coordgan-encoder_cars/iter_200000.pth
_base_ = [
    './_base_/models/coordgan-encoder_128.py',
    './_base_/datasets/image_folder_128.py',
    './_base_/schedules/coordgan-encoder_200k.py', './_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(data_root='data/stanford-cars/images'))
custom_hooks = []
