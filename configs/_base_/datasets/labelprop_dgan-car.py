# Label propagation on DatasetGAN car (20 classes); the first 5 items are
# references, all others queries.
# Layout and converter: docs/datasets_labelled.md.
_base_ = ['./labelprop_dgan-face.py']

test_dataloader = dict(
    dataset=dict(
        name='DatasetGAN car',
        dataset=dict(category='car', data_root='data/datasetgan-car')))
