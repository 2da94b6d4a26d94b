"""Data sets and formats: labelled recordings (manifest.csv), importers, ActionSense, synthetic data.

>>> from myovision.data import read_manifest, write_synthetic_gestures
>>> import tempfile
>>> m = read_manifest(write_synthetic_gestures(tempfile.mkdtemp(), n_subjects=1, n_gestures=2, n_sessions=2,
...                                            n_cycles=1, duration_s=1.0))
>>> m.labels, len(m), m.channels
(['neutral', 'radial_deviation'], 4, 8)
>>> rec = m[0]
>>> rec.data.shape, rec.label, rec.subject, rec.session, rec.sample_rate, rec.split
((200, 8), 'neutral', 's00', 'session0', 200.0, 'train')
"""

from myovision.data.actionsense import (
    ActionSenseRecording,
    Activity,
    ArmEMG,
    EmgSegments,
    activity_emg,
    frame_times,
    load_emg_segments,
    read_actionsense,
)
from myovision.data.manifest import (
    REQUIRED_COLUMNS,
    SPLITS,
    ImportResult,
    Manifest,
    read_manifest,
    write_manifest,
)
from myovision.data.myo_armband import MYO_GESTURES, import_myo_armband
from myovision.data.recordings import RECORDING_SUFFIXES, Recording, read_recording, write_recording
from myovision.data.synthetic import (
    SYNTHETIC_CLASSES,
    SyntheticClass,
    synthetic_classes,
    write_synthetic_actionsense,
    write_synthetic_gestures,
)

__all__ = [
    "Activity", "ActionSenseRecording", "ArmEMG", "EmgSegments", "activity_emg", "frame_times",
    "load_emg_segments", "read_actionsense",
    "REQUIRED_COLUMNS", "SPLITS", "ImportResult", "Manifest", "read_manifest", "write_manifest",
    "MYO_GESTURES", "import_myo_armband",
    "RECORDING_SUFFIXES", "Recording", "read_recording", "write_recording",
    "SYNTHETIC_CLASSES", "SyntheticClass", "synthetic_classes", "write_synthetic_actionsense",
    "write_synthetic_gestures",
]
