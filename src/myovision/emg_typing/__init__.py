"""sEMG typing (emg2qwerty, Sivakumar et al. 2024, and the CNN + BiLSTM follow-up study): the room.

config (TypingConfig: `typing train`'s options and their one default), training (windows, augmentation keyed by
(seed, epoch, index), cached session spectrograms, --init-from, the CTC Lightning module and data module,
fit_typing on the training harness), evaluate (whole-session emissions, greedy and LM beam decoders, CER in
metrics.json's schema), report (report.html), study (the CNN+BiLSTM study's Tables 1 and 2 as
`typing experiment --table study-1|study-2`), splits (emg2qwerty's personalised splits of its 8 test users, bundled).
"""
