# Encoder ablation "w/o texture swap loss" (paper Table 5); the other terms as
# the reference.
_base_ = ['./coordgan-encoder_celeba.py']

model = dict(losses=dict(texture_swap=None))
