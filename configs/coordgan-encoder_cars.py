# CoordGAN encoder stage on Stanford Cars (200k iterations), and the DatasetGAN
# car (20 classes) label-propagation benchmark.
_base_ = [
    './_base_/models/coordgan-encoder_128.py',
    './_base_/datasets/image_folder_128.py',
    './_base_/schedules/coordgan-encoder_200k.py', './_base_/default_runtime.py'
]

train_dataloader = dict(dataset=dict(data_root='data/stanford-cars/images'))
custom_hooks = []

propagation = dict(
    method=dict(type='CoordGANCorrespondence', input_size=128, tau=0.01),
    baselines=[
        dict(type='CopyReferenceMask'),
        dict(type='RawPixelNearestNeighbour'),
    ],
    dataset=dict(
        type='DatasetGANDataset',
        category='car',
        data_root='data/datasetgan-car',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadSegMap', size_check='aspect'),
            dict(type='PackImageInputs', meta_keys=('img_path', 'gt_seg_map')),
        ]),
    num_refs=5,
    batch_size=16)
