"""Print the versions that matter for a coordgan bug report: ``python -m coordgan.collect_env``."""
from collections import OrderedDict
from importlib import metadata

from mmengine.utils.dl_utils import collect_env as collect_base_env

import coordgan

# Distributions mmengine's report leaves out (it has torch, torchvision,
# OpenCV and MMEngine already).
DISTRIBUTIONS = ('mmcv-lite', 'mmcv', 'lpips', 'numpy', 'opencv-python',
                 'opencv-python-headless', 'pycocotools', 'pytorch-fid',
                 'scipy', 'terminaltables')


def collect_env() -> 'OrderedDict[str, str]':
    """Python, torch, CUDA, compiler and dependency versions, keyed by name."""
    env = collect_base_env()
    for name in DISTRIBUTIONS:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = 'not installed'
    env['coordgan'] = coordgan.__version__
    return env


def main() -> None:
    for name, value in collect_env().items():
        print(f'{name}: {value}')


if __name__ == '__main__':
    main()
