# tools/test.py configs/labelprop/resnet50_synthetic.py
_base_ = [
    '../_base_/models/labelprop_resnet50.py',
    '../_base_/datasets/labelprop_synthetic.py', '../_base_/labelprop_runtime.py'
]

# No pretrained weights are needed to try the benchmark on the embedded data:
# a seeded random network stands in and the table says "(random weights)".
# With the real file, set random_weights=False (and checkpoint=<path>).
model = dict(extractor=dict(random_weights=True))
