# GAN Factorization (SeFa) beside the texture swap on the README's synthetic
# stage-1 model, on the CPU in seconds:
#   python tools/test.py configs/eval_sefa_synthetic.py \
#       work_dirs/coordgan_synthetic/iter_2000.pth
#   python tools/test.py configs/eval_swap_synthetic.py \
#       work_dirs/coordgan_synthetic/iter_2000.pth   # the CoordGAN row
# 64 pairs; the texture pair is G(s, t) vs G(s, w_t +- 3 d_k) along the top 5
# directions of the last two styled convs' texture modulations. Random VGG
# without the ImageNet file (the log says so): values rank models trained
# here, not comparable with published LPIPS.
_base_ = ['./coordgan_synthetic.py', './_base_/generation_eval.py']

num_pairs = 64
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
         prefix='GANFactorization',
         lpips=dict(type='LPIPS', net='vgg', allow_random_backbone=True)),
]
