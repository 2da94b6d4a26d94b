"""Built-in models; importing this package registers them with `myovision.registry`."""

from myovision.models import classic, emg_cnn, fusion, heads  # noqa: F401

__all__ = ["classic", "emg_cnn", "fusion", "heads"]
