# CoordGAN encoder stage on Stanford Cars (200k iterations), and the DatasetGAN
# car (20 classes) label-propagation benchmark (first 5 items are references).
_base_ = [
    './_base_/models/coordgan-encoder_128.py',
    './_base_/datasets/image_folder_128.py',
    './_base_/datasets/labelled_propagation_128.py',
    './_base_/schedules/coordgan-encoder_200k.py', './_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(data_root='data/stanford-cars/images'))
custom_hooks = []

propagation = dict(
    dataset=dict(
        type='DatasetGANDataset', category='car',
        data_root='data/datasetgan-car'))
