"""Building blocks of synthetic Myo-like sEMG: muscle activation patterns, subjects, and the raw signal.

Model: raw EMG = activation envelope x band-limited Gaussian carrier x electrode gain, plus a sensor
noise floor and a slow baseline drift, rounded and clipped to the Myo's int8 range. An envelope is a
sum of muscle "bumps" around the 8-electrode ring of each armband, each pulsing with the movement's
period (duty cycle, phase) on top of a sustained (holding) part. Subjects differ in electrode gains,
armband rotation (a fractional channel shift), noise floor, resting tone and drift.

Nothing here depends on a class label: a class only chooses which `MusclePattern` drives the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_RING = 8  # Myo electrodes around one forearm
_PATTERN_SEED = 0x5EED_E36  # fixed: a pattern id always means the same muscle activity
_GOLDEN = 0.6180339887


@dataclass(frozen=True)
class Bump:
    """One muscle group: position on the ring (channels, fractional), width, height, timing."""

    center: float
    width: float
    height: float
    phase: float      # fraction of the movement period
    sustained: float  # 0 = purely rhythmic, 1 = held constantly


@dataclass(frozen=True)
class MusclePattern:
    """The activation of both forearms during one kind of movement (16 channels: left 0-7, right 8-15)."""

    pattern_id: int
    left: tuple[Bump, ...]
    right: tuple[Bump, ...]
    period_s: float
    duty: float

    def envelope(self, t: np.ndarray, arm: str, *, shift: float = 0.0, period_scale: float = 1.0,
                 phase0: float = 0.0) -> np.ndarray:
        """Activation (len(t), 8) >= 0 at times `t` (seconds from the movement's start) for one arm."""
        bumps = self.left if arm == "left" else self.right
        cycle = t / (self.period_s * period_scale) + phase0  # (n,) in movement periods
        env = np.zeros((len(t), N_RING))
        for b in bumps:
            pulse = _raised_cosine_pulse((cycle + b.phase) % 1.0, self.duty)  # (n,)
            temporal = b.height * (b.sustained + (1.0 - b.sustained) * pulse)
            env += temporal[:, None] * ring_profile(b.center + shift, b.width)[None, :]  # (n, 8)
        return env


def muscle_pattern(pattern_id: int) -> MusclePattern:
    """The fixed muscle pattern `pattern_id` (the same for every seed, run and machine).

    Main muscle groups are spread around the ring by golden-ratio steps, so patterns differ in which
    electrodes are active, and in movement period and duty cycle.
    """
    rng = np.random.default_rng([_PATTERN_SEED, pattern_id])

    def arm(offset: float, scale: float) -> tuple[Bump, ...]:
        main = ((pattern_id * _GOLDEN + offset) % 1.0) * N_RING
        bumps = [Bump(main, rng.uniform(0.9, 1.4), scale, 0.0, rng.uniform(0.05, 0.5))]
        for _ in range(rng.integers(1, 3)):  # 1-2 secondary groups, e.g. antagonists out of phase
            bumps.append(Bump(main + rng.uniform(2.5, 5.5), rng.uniform(0.8, 1.5), scale * rng.uniform(0.3, 0.8),
                              rng.choice([0.0, 0.5]) + rng.uniform(-0.1, 0.1), rng.uniform(0.0, 0.4)))
        return tuple(bumps)

    right = arm(0.0, 1.0)
    left = arm(0.37, rng.uniform(0.3, 0.9))  # the supporting hand works less
    return MusclePattern(pattern_id, left, right, period_s=float(rng.uniform(0.6, 2.4)),
                         duty=float(rng.uniform(0.3, 0.7)))


def ring_profile(center: float, width: float) -> np.ndarray:
    """Circular Gaussian bump over the 8 ring electrodes, peak 1 at `center` (channels, fractional)."""
    c = np.arange(N_RING)
    d = (c - center + N_RING / 2) % N_RING - N_RING / 2  # circular distance in channels
    return np.exp(-0.5 * (d / width) ** 2)


@dataclass(frozen=True)
class SubjectProfile:
    """How one person (and armband placement) shapes the signal."""

    gain: np.ndarray         # (16,) electrode gains: skin, fat, contact
    shift: tuple[float, float]  # armband rotation per arm (left, right), fractional channels
    scale: float             # overall amplitude (raw units at full activation)
    noise: float             # sensor noise floor std (raw units)
    rest: float              # resting tone (fraction of full activation)
    drift_gain: float        # relative amplitude of slow gain drift (fatigue, sweat)
    drift_period_s: float
    drift_offset: float      # amplitude of the slow baseline wander (raw units)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SubjectProfile:
        return cls(gain=rng.lognormal(0.0, 0.25, 16), shift=(rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)),
                   scale=float(rng.uniform(35.0, 60.0)), noise=float(rng.uniform(1.5, 4.0)),
                   rest=float(rng.uniform(0.03, 0.08)), drift_gain=float(rng.uniform(0.05, 0.2)),
                   drift_period_s=float(rng.uniform(60.0, 240.0)), drift_offset=float(rng.uniform(0.5, 2.0)))

    def arm_gain(self, arm: str) -> np.ndarray:
        return self.gain[:N_RING] if arm == "left" else self.gain[N_RING:]

    def arm_shift(self, arm: str) -> float:
        return self.shift[0] if arm == "left" else self.shift[1]


def raw_emg(envelope: np.ndarray, t: np.ndarray, profile: SubjectProfile, arm: str,
            rng: np.random.Generator) -> np.ndarray:
    """Myo-like raw EMG (n, 8) int32 in [-128, 127] from an activation envelope (n, 8) at times `t` (s)."""
    n = len(envelope)
    white = rng.standard_normal((n + 1, N_RING))
    carrier = (white[1:] - 0.6 * white[:-1]) / np.sqrt(1.36)  # first-order high-pass, unit variance
    phase = rng.uniform(0, 2 * np.pi)
    drift = 1.0 + profile.drift_gain * np.sin(2 * np.pi * t / profile.drift_period_s + phase)  # (n,)
    amp = (envelope + profile.rest) * drift[:, None] * profile.arm_gain(arm)[None, :] * profile.scale
    wander = profile.drift_offset * np.sin(2 * np.pi * t / (0.7 * profile.drift_period_s) + 2 * phase)
    x = amp * carrier + profile.noise * rng.standard_normal((n, N_RING)) + wander[:, None]
    return np.clip(np.rint(x), -128, 127).astype(np.int32)


def _raised_cosine_pulse(x: np.ndarray, duty: float) -> np.ndarray:
    """1 - cos pulse over the first `duty` of each period, 0 elsewhere; x in [0, 1)."""
    inside = x < duty
    out = np.zeros_like(x)
    out[inside] = 0.5 * (1.0 - np.cos(2 * np.pi * x[inside] / duty))
    return out
