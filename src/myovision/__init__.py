"""myovision: recognise what people do from surface EMG and video.

>>> import myovision as mv
>>> "emg_cnn" in mv.list_models("emg*")
True
"""

from myovision.errors import InputError
from myovision.registry import create_model, list_models, register_model

__version__ = "0.1.0"

__all__ = ["InputError", "create_model", "list_models", "register_model", "__version__"]
