"""What every coordgan dataset shares."""
from mmengine.dataset import BaseDataset
from mmengine.registry import DefaultScope

from coordgan.registry import SCOPE


class CoordGANBaseDataset(BaseDataset):
    """A ``BaseDataset`` whose pipeline resolves transform names in the coordgan scope.

    mmengine builds pipelines from its root registry under the current
    default scope; outside a Runner (scripts, notebooks) there is none, and
    ``PackImageInputs`` would not be found.
    """

    def __init__(self, *args, **kwargs):
        with DefaultScope.overwrite_default_scope(SCOPE):
            super().__init__(*args, **kwargs)
