"""Export trained models to ONNX and torch.export (``.pt2``), signal front-ends inside the graph.

`myovision.export.recipes.run_spec(RUN)` turns a run folder's model into an `ExportSpec` (module, named inputs
and outputs, dynamic batch and time axes); `myovision.export.writers.write(spec, FILE, "onnx" | "pt2")` writes
it; `writers.max_difference(FILE, fmt, spec)` runs the file (onnxruntime for ONNX) against PyTorch on inputs of
another batch size and length than the traced ones. The command line: ``myovision export RUN --format onnx
--out model.onnx``. This package file stays light (no torch) so the command line starts fast.
"""

FORMATS = ("onnx", "pt2")

__all__ = ["FORMATS"]
