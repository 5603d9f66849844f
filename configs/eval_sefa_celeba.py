# The "GAN Factorization" row of Table 2 on a CelebA-HQ stage-1 checkpoint:
#   python tools/test.py configs/eval_sefa_celeba.py work_dirs/coordgan_celeba/iter_300000.pth
# (the CoordGAN texture-swap row: configs/eval_swap_celeba.py, same pairs).
# SeFa's closed-form directions of the last two styled convs' texture
# modulations (paper, section 4.2); the texture pair of sample i is
# G(s, t) vs G(s, w_t +- 3 d_k), k = i mod 5, scored by the same LPIPS as
# the texture swap (ImageNet VGG, from $TORCH_HOME/hub/checkpoints/
# vgg16-397923af.pth). C^w depends on w_s only, so it does not move: the
# image distances are the measure. ArcFace reads pSp's model_ir_se50.pth
# from checkpoints/ (docs/evaluation.md).
_base_ = ['./coordgan_celeba.py', './_base_/generation_eval.py']

num_pairs = 5000
test_dataloader = dict(dataset=dict(num_samples=num_pairs))
test_cfg = dict(
    sefa=dict(num_directions=5, distance=3.0, layers=(-2, -1),
              normalize=True))
# Test only: the stage-1 config's training parts are dropped.
train_dataloader = None
train_cfg = None
optim_wrapper = None
custom_hooks = []
test_evaluator = [
    dict(type='SwapLPIPSMetric', swaps=('texture', ),
         prefix='GANFactorization', lpips=dict(type='LPIPS', net='vgg')),
    dict(type='ArcFaceIdentityMetric', swaps=('texture', ),
         prefix='GANFactorization/ArcFace',
         arcface_weights='checkpoints/model_ir_se50.pth'),
]
