# Encoder ablation "w/o latent consistency" (paper Table 5): no |w_s - w_s,E|
# and no |C^w - C^w_E| term; reconstruction and texture swap as the reference.
_base_ = ['./coordgan-encoder_celeba.py']

model = dict(losses=dict(latent_code=None, latent_coords=None))
