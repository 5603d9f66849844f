# CoordGAN at 512x512: the 128 networks plus two upsampling blocks (128, 64 ch);
# the correspondence map stays 128x128.
_base_ = ['./coordgan_128.py']

model = dict(
    generator=dict(out_size=512), discriminator=dict(in_size=512))
# Encoder inputs are resized to 128 (REFERENCE.md section 9); W+ has 16 slots at 512.
encoder = dict(num_latents=16)
