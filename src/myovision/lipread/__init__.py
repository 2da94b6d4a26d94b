"""Lip reading (Zeng, Du, Wang: "HMM-based Lip Reading with Stingy Residual 3D Convolution"): the room.

data (training items, state and CTC targets, word splicing), mmi (lattice-free MMI over decoding graphs),
training (LipReadConfig, the Lightning module, fitting, run folders), evaluate (HMM / CTC decoders, WER,
ensembles, the word LM).
"""
