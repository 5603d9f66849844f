# The embedded default: SyntheticPartsDataset rendered on the fly (no files).
img_size = 32

train_pipeline = [dict(type='PackImageInputs')]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='SyntheticPartsDataset',
        num_samples=20000,
        img_size=img_size,
        seed=0,
        pipeline=train_pipeline))
