# tools/test.py configs/labelprop/raw-pixel_synthetic.py
_base_ = [
    '../_base_/models/labelprop_raw-pixel.py',
    '../_base_/datasets/labelprop_synthetic.py', '../_base_/labelprop_runtime.py'
]

# Descriptors on CoordGAN's 32x32 grid at this size (labels are still scored
# at 128): 16x fewer pixel pairs than 128x128 descriptors.
model = dict(extractor=dict(input_size=32))
