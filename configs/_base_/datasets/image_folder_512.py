# The image folder of image_folder_128.py square-resized to 512 instead
# (the 512 stage and fine-tuning of REFERENCE.md section 8).
_base_ = ['./image_folder_128.py']

img_size = 512

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackImageInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
