import subprocess
import sys

from coordgan.collect_env import collect_env


def test_collect_env_reports_the_dependencies():
    env = collect_env()
    for key in ('PyTorch', 'TorchVision', 'MMEngine', 'mmcv-lite', 'lpips',
                'numpy', 'opencv-python', 'pycocotools', 'terminaltables',
                'coordgan'):
        assert key in env, key
    assert env['mmcv-lite'] != 'not installed'


def test_module_entry_point_prints():
    out = subprocess.run([sys.executable, '-m', 'coordgan.collect_env'],
                         capture_output=True, text=True, check=True).stdout
    assert 'coordgan: ' in out and 'PyTorch: ' in out
