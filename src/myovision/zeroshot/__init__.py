"""Zero-shot action recognition with language knowledge: MAXI (Lin et al., ICCV 2023) on a CLIP video model.

prompts (CLIP's Kinetics templates), dictionary (action-dictionary matching), textbags (verbs and verb
phrases from captions and phrase files), mil (MIL-NCE), evaluate (top-1/top-5, mAP, cached class
embeddings), videos (reading clips for CLIP), heatmaps (patch-to-text PNG overlays), synthetic (the demo's
seeded world), demo (the demo's before/after run), finetune (MIL, few-shot and image-text training).
"""
