# CoordGAN encoder stage on CelebA-HQ (200k iterations); its checkpoint is what
# the CelebAMask-HQ and DatasetGAN-face label-propagation benchmarks evaluate.
#   bash tools/dist_train.sh configs/coordgan-encoder_celeba.py 8 \
#       --cfg-options model.generator_checkpoint=work_dirs/coordgan_celeba/iter_300000.pth
#   python tools/test.py configs/labelprop/coordgan_celeba.py \
#       work_dirs/coordgan-encoder_celeba/iter_200000.pth
_base_ = [
    './_base_/models/coordgan-encoder_128.py',
    './_base_/datasets/image_folder_128.py',
    './_base_/schedules/coordgan-encoder_200k.py', './_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(data_root='data/celeba-hq/images'))
custom_hooks = []
