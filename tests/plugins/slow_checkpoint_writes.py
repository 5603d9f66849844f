"""A test-only plugin: temporary checkpoint files are written in two halves with a pause between.

Imported through ``custom_imports`` by the fault tests, so that a signal or
a SIGKILL can land while a checkpoint is half written. The pause is
``$COORDGAN_TEST_SAVE_PAUSE`` seconds (default 0.3).
"""
import os
import time

from mmengine.fileio.backends import LocalBackend

PAUSE = float(os.environ.get('COORDGAN_TEST_SAVE_PAUSE', '0.3'))
_put = LocalBackend.put


def _slow_put(self, obj, filepath):
    if not str(filepath).endswith('.tmp'):
        return _put(self, obj, filepath)
    half = len(obj) // 2
    with open(filepath, 'wb') as f:
        f.write(obj[:half])
        f.flush()
        time.sleep(PAUSE)
        f.write(obj[half:])


LocalBackend.put = _slow_put
