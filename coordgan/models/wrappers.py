"""Distributed wrapper that gives every trained network its own DDP, on GPUs or CPUs."""
from mmengine.device import get_device
from mmengine.model import MMSeparateDistributedDataParallel

from coordgan.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class SeparateDistributedDataParallel(MMSeparateDistributedDataParallel):
    """mmengine's separate DDP (one DDP per child with trainable parameters).

    The Runner passes ``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU
    modules; on a CPU run (gloo) they are dropped so that multi-process CPU
    training works too (tests, debugging).
    """

    def __init__(self,
                 module,
                 broadcast_buffers: bool = False,
                 find_unused_parameters: bool = False,
                 **kwargs):
        if get_device() == 'cpu':
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(module, broadcast_buffers, find_unused_parameters,
                         **kwargs)
