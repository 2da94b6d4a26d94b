"""Built-in models; importing this package registers them with `myovision.registry`."""

from myovision.models import classic, clip_video, conv3d, emg_cnn, fusion, heads, i3d, lipread, lipread_frontends, tds, typing_variants  # noqa: F401

__all__ = ["classic", "clip_video", "conv3d", "emg_cnn", "fusion", "heads", "i3d", "lipread", "lipread_frontends", "tds",
           "typing_variants"]
