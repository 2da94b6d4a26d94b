"""Training-time augmentations for sEMG signals and spectrograms, as composable dataclass callables.

Each random transform owns a ``numpy.random.Generator`` (``rng``: a Generator, which is used as is and
so can be shared by several transforms, or an int seed, or None for fresh OS entropy). The same seed
gives the same output on numpy and torch inputs. Inputs come back as the same type (numpy array or torch
tensor, same dtype and device). Transforms act on one example; with DataLoader workers give each
worker its own seed (a generator copied into forked workers repeats the same draws in every worker).

Layouts (each transform names its axes; defaults follow emg2qwerty, where an example is time-first):

* raw sEMG ``(time, channels)`` or ``(time, bands, electrodes)``: :class:`BandRotation`,
  :class:`TemporalJitter`, :class:`MagnitudeWarping`;
* spectrograms: :class:`SpecAugment` with ``time_dim`` / ``freq_dim``; the default ``(..., time, freq)``;
  for :func:`~myovision.signals.spectrogram.log_spectrogram`'s ``(frames, ..., C, freq)`` use
  ``time_dim=0``; for ``mel_spectrogram``'s ``(..., C, n_mels, frames)`` use ``time_dim=-1, freq_dim=-2``.

The emg2qwerty training recipe, written with these::

    rng = np.random.default_rng(seed)  # examples are (T, bands=2, electrodes=16) at 2 kHz
    Compose([BandRotation(band_dim=1, rng=rng), TemporalJitter(120, band_dim=1, rng=rng), log_spectrogram,
             SpecAugment(3, 25, 2, 4, time_dim=0, independent_dims=(1, 2), rng=rng)])  # (T', 2, 16, 33)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from myovision.errors import InputError
from myovision.signals.validation import check_array, check_int, check_nonnegative


def _make_rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise InputError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _axis(shape: Sequence[int], dim: int, what: str) -> int:
    nd = len(shape)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -nd <= dim < nd:
        raise InputError(f"{what} {dim!r} is out of range for an input of shape {tuple(shape)}")
    return int(dim) % nd


def _roll(x: Any, shift: int, axis: int) -> Any:
    return torch.roll(x, shift, dims=axis) if isinstance(x, torch.Tensor) else np.roll(x, shift, axis=axis)


def _concat(parts: list[Any], axis: int) -> Any:
    return torch.cat(parts, dim=axis) if isinstance(parts[0], torch.Tensor) else np.concatenate(parts, axis=axis)


def _slice(x: Any, axis: int, start: int | None, stop: int | None) -> Any:
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]


@dataclass
class Compose:
    """Apply ``transforms`` in order: ``Compose([f, g])(x) == g(f(x))``."""

    transforms: Sequence[Callable[[Any], Any]]

    def __call__(self, data: Any) -> Any:
        for transform in self.transforms:
            data = transform(data)
        return data


@dataclass
class SpecAugment:
    """SpecAugment time and frequency masking (Park et al. 2019) as emg2qwerty draws it.

    Per call, the number of time masks is uniform in ``0 .. n_time_masks`` (frequency likewise). Each mask
    is drawn by torchaudio's ``mask_along_axis`` rule (what emg2qwerty's ``TimeMasking`` /
    ``FrequencyMasking`` call): ``value = U[0, 1) * param``, ``min_value = U[0, 1) * (size - value)``,
    and the mask covers indices ``start <= i < end`` with ``start = floor(min_value)``, ``end = start +
    floor(value)``. So widths are ``0 .. param - 1`` (each with probability ``1 / param``; width 0 masks
    nothing) and, for ``param <= size``, masks stay inside the axis. (With ``param > size`` a mask can run
    past the end, as in torchaudio, whose ``.long()`` truncates a negative ``min_value`` towards 0; that
    is what is done here too.) Masked entries are set to ``mask_value``. Masks overlap freely.

    Layout: ``time_dim`` and ``freq_dim`` name the axes (default ``(..., time, freq)``). Masks are shared
    by all other axes unless those axes are listed in ``independent_dims``: then each index there gets
    its own mask positions (the count stays shared). emg2qwerty's per-example ``SpecAugment`` on
    ``(T', bands, C, freq)`` masks each band and electrode independently: ``time_dim=0,
    independent_dims=(1, 2)``.
    """

    n_time_masks: int = 0
    time_mask_param: int = 0
    n_freq_masks: int = 0
    freq_mask_param: int = 0
    mask_value: float = 0.0
    rng: Any = None
    time_dim: int = -2
    freq_dim: int = -1
    independent_dims: Sequence[int] = ()

    def __post_init__(self) -> None:
        for name in ("n_time_masks", "time_mask_param", "n_freq_masks", "freq_mask_param"):
            setattr(self, name, check_int(getattr(self, name), f"SpecAugment {name}", minimum=0))
        self.rng = _make_rng(self.rng)

    def intervals(self, shape: Sequence[int], rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw the masks for an input of ``shape`` as index intervals: ``(time, freq)``, each int64
        ``(n_masks, *inst_shape, 2)`` holding ``[start, end)`` along that axis, where ``inst_shape`` is ``shape``
        with 1 on every axis not in ``independent_dims`` (one interval per independent index). ``start`` is
        negative and ``end`` past the axis only when ``param > size`` (torchaudio's truncation, see above).
        :meth:`mask` draws exactly these. Draws: the mask count, then per mask its widths and its starts (one
        uniform per independent index each), time before frequency; from ``rng`` when given (one transform
        serving items that each have their own generator), else from the transform's own."""
        time, freq = self.batch_intervals([shape], [self.rng if rng is None else rng])
        return time[0], freq[0]

    def batch_intervals(self, shapes: Sequence[Sequence[int]],
                        rngs: Sequence[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`intervals` of many items at once: item ``i`` of ``shapes`` draws from ``rngs[i]`` exactly what
        :meth:`intervals` draws, and the arithmetic runs once for all. The items may differ in size along the
        time and frequency axes only. Returns ``(time, freq)``, each int64 ``(items, max n_masks, *inst_shape,
        2)``; an item with fewer masks is padded with ``[0, 0)`` (no mask)."""
        if not len(shapes) == len(rngs) >= 1:
            raise InputError(f"SpecAugment.batch_intervals needs one generator per item: {len(shapes)} shapes, "
                             f"{len(rngs)} generators")
        shape = shapes[0]
        nd = len(shape)
        t_ax, f_ax = _axis(shape, self.time_dim, "time_dim"), _axis(shape, self.freq_dim, "freq_dim")
        if t_ax == f_ax:
            raise InputError(f"SpecAugment time_dim and freq_dim are the same axis ({t_ax})")
        ind = {_axis(shape, d, "independent_dims entry") for d in self.independent_dims} - {t_ax, f_ax}
        inst_shape = [shape[a] if a in ind else 1 for a in range(nd)]  # one draw per independent index
        if any(len(s) != nd or any(s[a] != shape[a] for a in ind) for s in shapes):
            raise InputError(f"SpecAugment items differ outside the masked axes: {shapes[0]} and others")
        axes = ((t_ax, self.n_time_masks, self.time_mask_param), (f_ax, self.n_freq_masks, self.freq_mask_param))
        draws: tuple[list, list] = ([], [])
        for rng in rngs:
            for k, (_, count, _) in enumerate(axes):  # per mask: widths' draws, starts' draws
                draws[k].append(rng.random((int(rng.integers(count + 1)), 2, *inst_shape)))
        out = []
        for (axis, _, param), drawn in zip(axes, draws):
            u = np.zeros((len(rngs), max(len(d) for d in drawn), 2, *inst_shape))  # zeros draw [0, 0)
            for i, d in enumerate(drawn):
                u[i, :len(d)] = d
            size = np.array([s[axis] for s in shapes], dtype=np.float64).reshape(-1, *[1] * (nd + 1))
            bounds = np.empty((*u.shape[:2], *inst_shape, 2), dtype=np.int64)
            value = u[:, :, 0] * param  # torchaudio's mask_along_axis(_iid), every mask at once
            bounds[..., 0] = np.trunc(u[:, :, 1] * (size - value))  # torch .long(); floor as min_value >= 0
            bounds[..., 1] = bounds[..., 0] + np.floor(value)  # when param <= size
            out.append(bounds)
        return out[0], out[1]

    def mask(self, shape: Sequence[int]) -> np.ndarray:
        """Draw the boolean mask (True = masked) for an input of ``shape``, broadcastable to it."""
        nd = len(shape)
        t_ax, f_ax = _axis(shape, self.time_dim, "time_dim"), _axis(shape, self.freq_dim, "freq_dim")
        time, freq = self.intervals(shape)
        ind = {_axis(shape, d, "independent_dims entry") for d in self.independent_dims} - {t_ax, f_ax}
        masked = np.zeros([shape[a] if a in (t_ax, f_ax, *ind) else 1 for a in range(nd)], dtype=bool)
        for axis, bounds in ((t_ax, time), (f_ax, freq)):
            pos_shape = [1] * nd
            pos_shape[axis] = shape[axis]
            pos = np.arange(shape[axis]).reshape(pos_shape)
            for start, end in zip(bounds[..., 0], bounds[..., 1]):
                masked |= (pos >= start) & (pos < end)
        return masked

    def __call__(self, spec: Any) -> Any:
        check_array(spec, "spectrogram")
        masked = self.mask(tuple(spec.shape))
        if isinstance(spec, torch.Tensor):
            return spec.masked_fill(torch.from_numpy(masked).to(spec.device), self.mask_value)
        return np.where(masked, np.asarray(self.mask_value, dtype=spec.dtype), spec)


@dataclass
class BandRotation:
    """Rotate the electrodes of each band (a ring of electrodes around the wrist or forearm) by a random offset.

    For each band an offset is drawn from ``offsets`` and the electrodes along ``channel_dim`` are rolled
    by it (``np.roll`` direction: electrode ``c`` moves to ``c + offset``, wrapping round), simulating an
    armband put on rotated. Bands are the indices along ``band_dim`` (emg2qwerty's ``(time, bands=2,
    16)``: ``band_dim=1``), or, with ``band_dim=None``, ``n_bands`` equal consecutive groups of the channel
    axis (``(time, 32)`` with ``n_bands=2``: left 16 then right 16). The default is one band over the whole
    channel axis. One draw per band per call, shared by any other axes.
    """

    offsets: Sequence[int] = (-1, 0, 1)
    channel_dim: int = -1
    band_dim: int | None = None
    n_bands: int = 1
    rng: Any = None
    last_offsets: tuple[int, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        self.offsets = tuple(int(o) for o in self.offsets) or (0,)
        self.n_bands = check_int(self.n_bands, "BandRotation n_bands", minimum=1)
        self.rng = _make_rng(self.rng)

    def __call__(self, x: Any) -> Any:
        check_array(x)
        c_ax = _axis(x.shape, self.channel_dim, "channel_dim")
        if self.band_dim is None:
            n_ch = x.shape[c_ax]
            if n_ch % self.n_bands:
                raise InputError(f"BandRotation: {n_ch} channels do not split into {self.n_bands} equal bands")
            size = n_ch // self.n_bands
            bands = [_slice(x, c_ax, b * size, (b + 1) * size) for b in range(self.n_bands)]
            offsets = [int(self.rng.choice(self.offsets)) for _ in bands]
            self.last_offsets = tuple(offsets)
            return _concat([_roll(band, o, c_ax) for band, o in zip(bands, offsets)], c_ax)
        b_ax = _axis(x.shape, self.band_dim, "band_dim")
        if b_ax == c_ax:
            raise InputError("BandRotation band_dim and channel_dim are the same axis")
        bands = [_slice(x, b_ax, b, b + 1) for b in range(x.shape[b_ax])]
        offsets = [int(self.rng.choice(self.offsets)) for _ in bands]
        self.last_offsets = tuple(offsets)
        return _concat([_roll(band, o, c_ax) for band, o in zip(bands, offsets)], b_ax)


@dataclass
class TemporalJitter:
    """Shift the second band against the first by up to ``max_offset`` samples (emg2qwerty's TemporalAlignmentJitter).

    An offset ``k`` is drawn uniformly from ``-max_offset .. max_offset``; for ``k > 0`` the output pairs
    ``first[t + k]`` with ``second[t]``, for ``k < 0`` ``first[t]`` with ``second[t - k]``, so it is
    ``|k|`` samples shorter than the input. Bands: the two indices of ``band_dim`` (emg2qwerty's
    ``(time, 2, 16)``: ``band_dim=1``), or with ``band_dim=None`` the two halves of the channel axis
    (``channel_dim``). Time is ``time_dim`` (default 0, time-first examples).
    """

    max_offset: int
    band_dim: int | None = None
    time_dim: int = 0
    channel_dim: int = -1
    rng: Any = None
    last_offset: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.max_offset = check_int(self.max_offset, "TemporalJitter max_offset", minimum=0)
        self.rng = _make_rng(self.rng)

    def __call__(self, x: Any) -> Any:
        check_array(x)
        t_ax = _axis(x.shape, self.time_dim, "time_dim")
        if self.band_dim is None:
            axis = _axis(x.shape, self.channel_dim, "channel_dim")
            if x.shape[axis] % 2:
                raise InputError(f"TemporalJitter: {x.shape[axis]} channels do not split into two bands")
            half = x.shape[axis] // 2
            first, second = _slice(x, axis, 0, half), _slice(x, axis, half, None)
        else:
            axis = _axis(x.shape, self.band_dim, "band_dim")
            if x.shape[axis] != 2:
                raise InputError(f"TemporalJitter needs 2 bands along band_dim {self.band_dim}, got {x.shape[axis]}")
            first, second = _slice(x, axis, 0, 1), _slice(x, axis, 1, 2)
        if axis == t_ax:
            raise InputError("TemporalJitter time_dim and band axis are the same")
        k = int(self.rng.integers(-self.max_offset, self.max_offset + 1))
        if k >= x.shape[t_ax]:
            raise InputError(f"TemporalJitter offset {k} leaves nothing of {x.shape[t_ax]} samples")
        self.last_offset = k
        if k > 0:
            first, second = _slice(first, t_ax, k, None), _slice(second, t_ax, None, -k)
        elif k < 0:
            first, second = _slice(first, t_ax, None, k), _slice(second, t_ax, -k, None)
        return _concat([first, second], axis)


@dataclass
class MagnitudeWarping:
    """Multiply each channel by a smooth random curve around 1 (Um et al. 2017, "Data augmentation of wearable sensor data").

    For every series (every index of the axes other than ``time_dim``: each channel, band, ...) draw
    ``knots + 2`` values from ``N(1, sigma)`` at times ``linspace(0, T - 1, knots + 2)`` and interpolate
    them with a cubic spline (``scipy.interpolate.CubicSpline``, not-a-knot ends) at every sample.
    ``sigma = 0`` leaves the input unchanged. :meth:`curve` gives the curve, knot times and values.
    ``shared_curve``: one curve for all series (the CNN+BiLSTM sEMG typing study's magnitude warping).
    """

    sigma: float = 0.2
    knots: int = 4
    time_dim: int = 0
    rng: Any = None
    shared_curve: bool = False

    def __post_init__(self) -> None:
        self.sigma = check_nonnegative(self.sigma, "MagnitudeWarping sigma")
        self.knots = check_int(self.knots, "MagnitudeWarping knots", minimum=0)
        self.rng = _make_rng(self.rng)

    def curve(self, n_time: int, series_shape: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw one curve per series: ``(curve (n_time, *series_shape), knot_times, knot_values (knots + 2, *series_shape))``."""
        if n_time < 2:
            raise InputError(f"MagnitudeWarping needs at least 2 samples, got {n_time}")
        knot_t = np.linspace(0.0, n_time - 1.0, self.knots + 2)
        knot_v = self.rng.normal(1.0, self.sigma, size=(self.knots + 2, *series_shape))
        if self.sigma == 0:
            return np.ones((n_time, *series_shape)), knot_t, knot_v
        return CubicSpline(knot_t, knot_v, axis=0)(np.arange(n_time)), knot_t, knot_v

    def __call__(self, x: Any) -> Any:
        check_array(x)
        t_ax = _axis(x.shape, self.time_dim, "time_dim")
        shape = tuple(x.shape)
        series = (1,) * (len(shape) - 1) if self.shared_curve else shape[:t_ax] + shape[t_ax + 1 :]
        curve, _, _ = self.curve(shape[t_ax], series)
        curve = np.moveaxis(curve, 0, t_ax)  # same layout as x (size-1 axes broadcast a shared curve)
        if isinstance(x, torch.Tensor):
            return x * torch.from_numpy(curve).to(device=x.device, dtype=x.dtype if x.is_floating_point() else torch.get_default_dtype())
        if x.dtype.kind == "f":
            return (x * curve).astype(x.dtype, copy=False)
        return x * curve


def rotate_and_mask(spec: torch.Tensor, rotation: torch.Tensor, time_masks: torch.Tensor, freq_masks: torch.Tensor,
                    mask_value: float = 0.0) -> torch.Tensor:
    """:class:`BandRotation` then :class:`SpecAugment` on a batch of log spectrograms, from parameters drawn per
    item beforehand: one index and one mask in torch, on ``spec``'s device (a GPU takes them off the data loader).

    spec ``(T, N, bands, C, freq)``; rotation ``(N, bands)``: electrode ``c`` of band ``b`` of item ``n`` moves
    to ``c + rotation[n, b]`` (``np.roll``'s direction, wrapping round); time_masks ``(N, bands, C, M, 2)`` and
    freq_masks ``(N, bands, C, M', 2)``: ``[start, end)`` frames / bins per rotated electrode, as
    :meth:`SpecAugment.intervals` draws them for one item with ``independent_dims`` the bands and electrodes
    (``[0, 0)`` pads items with fewer masks). Returns a new contiguous tensor: each item rolled, then masked.
    ``spec`` is read in place when its layout is dense with the electrode and frequency axes innermost (as
    :meth:`~myovision.data.spectrogram_windows.SpectrogramWindows.gather` gives unless every window of the batch
    is shorter than the longest a window can be); any other layout is copied first.
    """
    n_time, n_items, n_bands, n_electrodes, n_freq = spec.shape
    order = sorted(range(5), key=lambda d: -spec.stride(d))  # the axes as laid out in memory, outermost first
    if order[-2:] != [3, 4] or not spec.permute(order).is_contiguous():
        spec, order = spec.contiguous(), list(range(5))
    rows = spec.permute(order).reshape(-1, n_freq)  # every (time, item, band, electrode) row, in memory order: a view
    st, sn, sb, sc = (spec.stride(d) // n_freq for d in range(4))  # row strides
    electrodes = torch.arange(n_electrodes, device=spec.device)
    source = (electrodes - rotation[..., None]) % n_electrodes  # (N, bands, C): electrode read
    item_band = (torch.arange(n_items, device=spec.device) * sn)[:, None] + torch.arange(n_bands, device=spec.device) * sb
    read = (torch.arange(n_time, device=spec.device) * st)[:, None, None, None] + item_band[..., None] + source * sc
    out = rows.index_select(0, read.view(-1)).view(n_time, -1, n_freq)  # (T, N * bands * C, freq), in (T, N) order
    t = torch.arange(n_time, device=spec.device)[:, None, None, None, None]  # (T, 1, 1, 1, 1)
    in_time = ((t >= time_masks[..., 0]) & (t < time_masks[..., 1])).any(-1)  # (T, N, bands, C)
    f = torch.arange(n_freq, device=spec.device)  # (freq,) against (N, bands, C, M', 1)
    in_freq = ((f >= freq_masks[..., 0, None]) & (f < freq_masks[..., 1, None])).any(-2)  # (N, bands, C, freq)
    out.view(-1, n_freq)[in_time.view(-1)] = mask_value  # whole rows of 33 bins
    out.view(n_time, -1).index_fill_(1, in_freq.view(-1).nonzero().view(-1), mask_value)  # columns, every frame
    return out.view(spec.shape)

__all__ = ["Compose", "SpecAugment", "BandRotation", "TemporalJitter", "MagnitudeWarping", "rotate_and_mask"]
