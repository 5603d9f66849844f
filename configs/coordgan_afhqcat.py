# CoordGAN at 128 on AFHQ cat (train/cat/*.jpg): 300k iterations, batch 2 per GPU x 8 GPUs.
# Data layout: docs/datasets.md. Train: bash tools/dist_train.sh configs/coordgan_afhqcat.py 8
_base_ = [
    './_base_/models/coordgan_128.py', './_base_/datasets/image_folder_128.py',
    './_base_/schedules/coordgan_300k.py', './_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(data_root='data/afhq/train/cat'))
