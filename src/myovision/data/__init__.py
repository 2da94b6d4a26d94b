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
from myovision.data.actionsense_samples import (
    SubActionSamples,
    actionsense_samples,
    read_authors_split,
    read_subaction_table,
    read_subaction_tables,
    samples_from_recordings,
    subaction_windows,
)
from myovision.data.epic import EPIC_COLUMNS, read_epic_annotations
from myovision.data.feature_pickles import RestrictedUnpickler, import_feature_pickle, restricted_load
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
from myovision.data.store import FeatureStore, FeatureWriter
from myovision.data.synthetic import (
    SYNTHETIC_CLASSES,
    SyntheticClass,
    synthetic_classes,
    write_synthetic_actionsense,
    write_synthetic_gestures,
)
from myovision.data.synthetic_rgb import synthetic_appearances, synthetic_rgb_features

__all__ = [
    "SubActionSamples", "actionsense_samples", "read_authors_split", "read_subaction_table",
    "read_subaction_tables", "samples_from_recordings", "subaction_windows",
    "EPIC_COLUMNS", "read_epic_annotations",
    "RestrictedUnpickler", "import_feature_pickle", "restricted_load",
    "FeatureStore", "FeatureWriter",
    "synthetic_appearances", "synthetic_rgb_features",
    "Activity", "ActionSenseRecording", "ArmEMG", "EmgSegments", "activity_emg", "frame_times",
    "load_emg_segments", "read_actionsense",
    "REQUIRED_COLUMNS", "SPLITS", "ImportResult", "Manifest", "read_manifest", "write_manifest",
    "MYO_GESTURES", "import_myo_armband",
    "RECORDING_SUFFIXES", "Recording", "read_recording", "write_recording",
    "SYNTHETIC_CLASSES", "SyntheticClass", "synthetic_classes", "write_synthetic_actionsense",
    "write_synthetic_gestures",
]
