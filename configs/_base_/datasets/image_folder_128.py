# Unlabelled images under data_root (recursively), square-resized to 128,
# flipped, scaled to [-1, 1] by the model's data preprocessor.
# batch 2 per GPU x 8 GPUs = 16 (REFERENCE.md section 5).
data_root = 'data/celeba-hq/images'
img_size = 128

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackImageInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ImageFolderDataset', data_root=data_root,
        pipeline=train_pipeline))
