# Ablation "w/o struc-mod" (paper Table 3; REFERENCE.md section 3): C^w enters
# the synthesis net only through the Fourier features, never concatenated.
_base_ = ['./coordgan_celeba.py']

model = dict(generator=dict(structure_modulation='fourier'))
