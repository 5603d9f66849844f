# Label propagation on CelebAMask-HQ with CoordGAN's split: positions
# [1, 3, 5, 6, 8] are references and range(100, 200) queries, in the order
# of the converter's '--indices coordgan' (docs/datasets_labelled.md).
test_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='LabelPropagationDataset',
        name='CelebAMask-HQ',
        split='celeba',
        dataset=dict(
            type='CelebAMaskHQDataset',
            data_root='data/celebamask-hq-6class',
            pipeline=[
                dict(type='LoadImageFromFile'),
                # 512 px masks of 1024 px images.
                dict(type='LoadSegMap', size_check='aspect'),
                dict(type='PackImageInputs',
                     meta_keys=('img_path', 'gt_seg_map')),
            ])))
test_evaluator = [dict(type='LabelPropagationMetric')]
