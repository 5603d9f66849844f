# Label propagation on DatasetGAN face (32 classes: the 34 released minus
# hair and neck); the first 5 items are references, all others queries.
# Layout and converter: docs/datasets_labelled.md.
test_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='LabelPropagationDataset',
        name='DatasetGAN face',
        split='first5',
        dataset=dict(
            type='DatasetGANDataset',
            category='face', data_root='data/datasetgan-face',
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadSegMap', size_check='exact'),
                dict(type='PackImageInputs',
                     meta_keys=('img_path', 'gt_seg_map')),
            ])))
test_evaluator = [dict(type='LabelPropagationMetric')]
