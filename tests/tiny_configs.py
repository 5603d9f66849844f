"""Tiny sizes for every registered network, so tests build them in milliseconds.

Each entry overrides only widths and code sizes; the structure (blocks per
resolution, heads, code slots) stays the configured one, and configured image
sides shrink by ``SIZE_DIVISOR``. A new registered type of the package needs
an entry here: tests/test_registry.py fails until it has one.
"""
import copy

TINY_KWARGS = {
    'MLPWarper': dict(style_dim=16, hidden_channels=(16, 16)),
    'TPSWarper': dict(style_dim=16, hidden_channels=(16, )),
    'STNWarper': dict(style_dim=16, hidden_channels=(16, )),
    'CoordGANGenerator': dict(
        out_size=16, grid_size=16, z_dim=16, style_dim=16, channels=16,
        num_blocks=2, mapping_layers=2, upsample_channels=(8, 8),
        warper=dict(type='MLPWarper')),
    'StyleGAN2Discriminator': dict(in_size=16, channel_scale=1 / 32),
    'PatchCooccurrenceDiscriminator': dict(
        crop_size=16, channels=(8, 8, 8), hidden_dim=16, num_ref_crops=2,
        num_target_crops=2),
    'CoordGANEncoder': dict(
        in_size=16, style_dim=16, stem_channels=8, channels=(8,),
        structure_channels=4, texture_channels=(8, 8)),
    'GANLoss': {},
    'StructureSwapLoss': {},
    'R1Regularization': {},
    'PatchR1Regularization': {},
    'CycleLoss': {},
    'ReconstructionLoss': {},
    'InversionTextureSwapLoss': {},
    'LatentCodeLoss': {},
    'LatentCoordsLoss': {},
    'EquivarianceLoss': {},
    'L1Distance': {},
    'TextureSwapLoss': {},
    'WarpLoss': {},
    'ChamferLoss': {},
    'StructureDiversityLoss': {},
    'EdgeDistance': {},
    # The VGG widths are fixed; a random backbone avoids the missing-weights
    # warning (tests never have ImageNet weights).
    'LPIPS': dict(random_backbone=True),
    'CopyReferenceMask': dict(input_size=16),
    'RawPixelNearestNeighbour': dict(input_size=16),
    # map_size: the configs' finer C^w (64) would exceed the 16 px eval size.
    'CoordGANCorrespondence': dict(input_size=16, map_size=None),
    # ResNet-50 widths are fixed; tests never have the released weights.
    'ResNet50Features': dict(input_size=32, random_weights=True),
    'MoCoFeatures': dict(input_size=32, random_weights=True),
    'VFSFeatures': dict(input_size=32, random_weights=True),
}

SIZE_KEYS = ('out_size', 'in_size', 'grid_size')
# Configured image sides shrink by this factor, to at least MIN_SIZE
# (128 -> 16, 512 -> 64, 32 -> 16).
SIZE_DIVISOR = 8
MIN_SIZE = 16


def tiny(cfg: dict) -> dict:
    """A copy of a network config with tiny sizes (nested warper configs too)."""
    cfg = copy.deepcopy(dict(cfg))
    # Types defined outside the package (users' plug-ins) keep their sizes.
    out = dict(cfg, **copy.deepcopy(TINY_KWARGS.get(cfg['type'], {})))
    for key in SIZE_KEYS:
        if key in cfg:
            out[key] = max(MIN_SIZE, cfg[key] // SIZE_DIVISOR)
    for key in ('warper', 'backward_warper'):
        if cfg.get(key) is not None:  # keep the configured warper type
            out[key] = cfg[key]
        if out.get(key) is not None:
            out[key] = tiny(out[key])
            out[key].pop('style_dim', None)  # the generator fills it in
    if out['type'] == 'CoordGANCorrespondence':
        out['encoder'] = tiny(cfg.get('encoder', TINY_ENCODER))
        out['generator'] = tiny(cfg.get('generator', TINY_GENERATOR))
        _match_latents(out)
    return out


def _match_latents(cfg: dict) -> None:
    """Give a tiny encoder as many W+ slots as its tiny generator takes."""
    from coordgan.registry import GENERATORS
    cfg['encoder']['num_latents'] = GENERATORS.build(
        cfg['generator']).num_latents


TINY_ENCODER = dict(type='CoordGANEncoder')
TINY_GENERATOR = dict(type='CoordGANGenerator')


def tiny_model(cfg: dict) -> dict:
    """A copy of a model config (``CoordGAN``, ``CoordGANInversion``, ``LabelPropagationModel``) with tiny networks."""
    out = copy.deepcopy(dict(cfg))
    out.pop('generator_checkpoint', None)
    for key in ('generator', 'discriminator', 'patch_discriminator',
                'encoder', 'extractor'):
        if key in out:
            out[key] = tiny(out[key])
    if 'perceptual' in out:
        out['perceptual'] = tiny(out['perceptual'])
    if 'encoder' in out and 'generator' in out:
        _match_latents(out)
    if out.get('type') == 'LabelPropagationModel':
        # Labels and matches on a 16 x 16 grid instead of the protocol's 128.
        out['data_preprocessor'] = dict(type='PropagationDataPreprocessor',
                                        size=MIN_SIZE)
    return out
