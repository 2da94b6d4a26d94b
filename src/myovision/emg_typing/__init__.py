"""sEMG typing (emg2qwerty, Sivakumar et al. 2024, and the CNN + BiLSTM follow-up study): the room.

training (windows, augmentation, the CTC Lightning module, fitting, whole-session evaluation with greedy and
LM beam decoders).
"""
