"""Lip reading (Zeng, Du, Wang: "HMM-based Lip Reading with Stingy Residual 3D Convolution"): the room.

config (LipReadConfig, LipReadTrainConfig: the options of `myovision lipread train`), data (training items,
state and CTC targets, word splicing, the data module, the validation split), mmi (lattice-free MMI over
decoding graphs), training (the Lightning module on the harness, fit_lipreader), run (LipReadRun and its run
folder), evaluate (HMM / CTC decoders, WER, ensembles, the word LM), report (report.html).
"""
