"""The sEMG front-end: filters, resampling, windows, preprocessing presets, spectrograms, features, augmentation.

Signals are (time, channels) numpy arrays or batched (..., time, channels) arrays / torch tensors;
every function is vectorised over samples and channels.

>>> import numpy as np
>>> from myovision import signals
>>> x = np.random.default_rng(0).normal(size=(800, 16))
>>> signals.preprocess(x, fs=160, preset="authors-code").shape
(800, 16)
>>> signals.mel_spectrogram(x, fs=160, n_mels=10, n_fft=32, hop_length=4).shape
(16, 10, 201)
"""

from myovision.signals.augment import BandRotation, Compose, MagnitudeWarping, SpecAugment, TemporalJitter
from myovision.signals.features import FEATURE_NAMES, FS_FEATURES, features
from myovision.signals.filters import butter_filter, minmax_normalise, moving_rms, notch, rectify, zscore
from myovision.signals.preprocess import PRESETS, preprocess
from myovision.signals.resample import interpolate_to_length, resample_onto, resample_to_rate
from myovision.signals.spectrogram import log_spectrogram, mel_filterbank, mel_spectrogram, stft_power
from myovision.signals.windows import sliding_windows, split_clips

__all__ = [
    "BandRotation", "Compose", "MagnitudeWarping", "SpecAugment", "TemporalJitter",
    "FEATURE_NAMES", "FS_FEATURES", "features",
    "butter_filter", "minmax_normalise", "moving_rms", "notch", "rectify", "zscore",
    "PRESETS", "preprocess",
    "interpolate_to_length", "resample_onto", "resample_to_rate",
    "log_spectrogram", "mel_filterbank", "mel_spectrogram", "stft_power",
    "sliding_windows", "split_clips",
]
