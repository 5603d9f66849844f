# Label propagation on the embedded synthetic data: 105 unseen samples (a seed
# the training set never uses), the first 5 references, 100 queries; every
# sample has its part mask and its ground-truth canonical coordinates, so the
# dense-match metric runs too.
test_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='LabelPropagationDataset',
        name='synthetic parts',
        split='first5',
        dataset=dict(
            type='SyntheticPartsDataset',
            num_samples=105,
            img_size=128,
            seed=12345,
            pipeline=[
                dict(type='PackImageInputs',
                     meta_keys=('img_path', 'gt_seg_map', 'gt_coords'))
            ])))
test_evaluator = [
    dict(type='LabelPropagationMetric'),
    dict(type='CorrespondenceMetric'),
]
