"""Multimodal action recognition (Bracci, Caruso, Clemente: "Integrating RGB and sEMG Signals for Egocentric
Action Recognition"): the room.

backbone (the sEMG 2D CNN and its normaliser), splits (protocols), table2 (the paper's Table 2 rows),
experiment (ActionSense end to end), epic (EPIC-Kitchens verbs), report (the experiment's report.html),
video_finetune (I3D fine-tuning on a labelled video list).
"""
