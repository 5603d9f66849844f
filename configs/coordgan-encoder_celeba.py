# CoordGAN encoder stage on CelebA-HQ (200k iterations), and the CelebAMask-HQ
# label-propagation benchmark of the paper's Table 1.
#   bash tools/dist_train.sh configs/coordgan-encoder_celeba.py 8 \
#       --cfg-options model.generator_checkpoint=work_dirs/coordgan_celeba/iter_300000.pth
#   python tools/test.py configs/coordgan-encoder_celeba.py work_dirs/coordgan-encoder_celeba/iter_200000.pth
_base_ = [
    './_base_/models/coordgan-encoder_128.py',
    './_base_/datasets/image_folder_128.py',
    './_base_/datasets/labelled_propagation_128.py',
    './_base_/schedules/coordgan-encoder_200k.py', './_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(data_root='data/celeba-hq/images'))
custom_hooks = []

propagation = dict(
    dataset=dict(
        type='CelebAMaskHQDataset', data_root='data/celebamask-hq-6class'),
    ref_indices=[1, 3, 5, 6, 8],
    query_indices=list(range(100, 200)))
