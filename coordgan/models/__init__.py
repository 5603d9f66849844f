"""Networks of CoordGAN, one folder per plug-in kind."""
from .discriminators import *  # noqa: F401,F403
from .encoders import *  # noqa: F401,F403
from .generators import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .warpers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .algorithms import *  # noqa: F401,F403
from .wrappers import SeparateDistributedDataParallel  # noqa: F401
from .correspondence import *  # noqa: F401,F403
from .baselines import *  # noqa: F401,F403
