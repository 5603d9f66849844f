from .metrics import *  # noqa: F401,F403
from .arcface import (ArcFace, IRSE50, MissingArcFaceWeightsError,  # noqa: F401
                      identity_distance)
from .sefa import SeFaDirections, sefa_directions  # noqa: F401
