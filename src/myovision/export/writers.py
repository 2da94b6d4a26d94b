"""Write an `ExportSpec` as ONNX (torch.onnx's TorchScript exporter, ``dynamo=False``) or as a torch.export
program (``.pt2``), and run the written file against PyTorch.

ONNX goes through the TorchScript-based exporter: it takes ``dynamic_axes`` by name, exports every model here
in about a second (the dynamo exporter took 10-20 s per model on this machine), and names the aten operator it
has no symbolic for. A model that cannot export is one InputError line naming that operator.
"""

from __future__ import annotations

import inspect
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from myovision.errors import InputError
from myovision.export import FORMATS
from myovision.export.attention import traceable_attention
from myovision.export.spec import ExportSpec
from myovision.fileio import atomic_path

OPSET = 17  # the first opset with LayerNormalization (Transformers, TDS blocks)
_OPERATOR = re.compile(r"(aten::\w+|operator '?[\w:.]+'?)")


def _onnx_packages():
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise InputError(f"ONNX export needs the onnx extra ({exc.name} is missing): pip install 'myovision[onnx]'") \
            from None
    return onnx, onnxruntime


def unsupported_operator(exc: BaseException) -> str:
    """The operator an exporter stopped at (e.g. "aten::linalg_det"), or the first line of its message."""
    text = str(exc)
    found = _OPERATOR.search(text)
    if found:
        return found.group(1).replace("operator ", "").strip("'")
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def write_onnx(spec: ExportSpec, path: str | Path, *, opset: int = OPSET) -> Path:
    """`spec` as an ONNX file (atomic); metadata_props carry the description and `spec.metadata`."""
    onnx, _ = _onnx_packages()
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings(), traceable_attention(spec.module):
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python control flow
        try:
            torch.onnx.export(spec.module, spec.example(), str(tmp), dynamo=False, opset_version=opset,
                              input_names=list(spec.input_names), output_names=list(spec.output_names),
                              dynamic_axes={k: dict(v) for k, v in spec.dynamic_axes.items()})
        except Exception as exc:  # the exporter raises several types (UnsupportedOperatorError, RuntimeError ...)
            raise InputError(f"cannot export to ONNX (opset {opset}): {unsupported_operator(exc)} is not "
                             "supported") from exc
        model = onnx.load(str(tmp))
        _positive_transpose_perms(model.graph)
        _float_eye_like(model.graph, onnx)
        for key, value in {"description": spec.description, **spec.metadata}.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = f"myovision.{key}", str(value)
        onnx.save(model, str(tmp))
    return path


def _positive_transpose_perms(graph) -> None:
    """Rewrite Transpose permutations with negative axes (the TorchScript exporter writes ``movedim(-1, 0)`` as
    perm [-1, 0, 1, ...], which ONNX forbids) as their positive equivalents; a perm's length is the rank."""
    for node in graph.node:
        if node.op_type == "Transpose":
            for attribute in node.attribute:
                if attribute.name == "perm" and any(p < 0 for p in attribute.ints):
                    fixed = [p % len(attribute.ints) for p in attribute.ints]
                    del attribute.ints[:]
                    attribute.ints.extend(fixed)
        for attribute in node.attribute:  # sub-graphs (If, Loop, Scan)
            if attribute.g.node:
                _positive_transpose_perms(attribute.g)


def _float_eye_like(graph, onnx) -> None:
    """onnxruntime has no boolean EyeLike (``torch.eye(n, dtype=torch.bool)``, e.g. the attention fusion's
    diagonal mask, traced as EyeLike of a boolean ConstantOfShape): make it a float EyeLike, then Cast to bool."""
    boolean = {n.output[0] for n in graph.node if n.op_type == "ConstantOfShape"
               and any(a.name == "value" and a.t.data_type == onnx.TensorProto.BOOL for a in n.attribute)}
    for node in list(graph.node):
        if node.op_type != "EyeLike" or node.input[0] not in boolean or any(a.name == "dtype" for a in node.attribute):
            continue
        source, target = node.input[0], node.output[0]
        node.input[0], node.output[0] = f"{source}_float", f"{target}_float"
        node.attribute.append(onnx.helper.make_attribute("dtype", onnx.TensorProto.FLOAT))
        at = list(graph.node).index(node)
        graph.node.insert(at + 1, onnx.helper.make_node("Cast", [node.output[0]], [target], to=onnx.TensorProto.BOOL,
                                                        name=f"{node.name}_to_bool"))
        graph.node.insert(at, onnx.helper.make_node("Cast", [source], [node.input[0]], to=onnx.TensorProto.FLOAT,
                                                    name=f"{node.name}_from_bool"))


def write_pt2(spec: ExportSpec, path: str | Path) -> Path:
    """`spec` as a torch.export program (``torch.export.save``; read back with ``torch.export.load``), every
    dynamic axis left for torch.export to bound (``Dim.AUTO``)."""
    path = Path(path)
    shapes = tuple({axis: torch.export.Dim.AUTO for axis in spec.dynamic_axes.get(name, {})}
                   for name in spec.input_names)
    parameters = inspect.signature(spec.module.forward).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        shapes = (shapes,)  # forward(*tensors): one entry for the varargs, holding one per tensor
    try:
        program = torch.export.export(spec.module, spec.example(), dynamic_shapes=shapes)
    except Exception as exc:  # torch.export raises Unsupported, UserError, RuntimeError ...
        raise InputError(f"cannot export with torch.export: {unsupported_operator(exc)}") from exc
    with atomic_path(path) as tmp:
        torch.export.save(program, str(tmp))
    return path


def write(spec: ExportSpec, path: str | Path, fmt: str, *, overwrite: bool = False) -> Path:
    """`spec` in format `fmt` ("onnx" or "pt2") at `path`; an existing file is refused unless `overwrite`."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if path.exists() and not overwrite:
        raise InputError("already exists: give another --out, or --overwrite to replace it", path)
    return write_onnx(spec, path) if fmt == "onnx" else write_pt2(spec, path)


def torch_outputs(spec: ExportSpec, inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
    """The PyTorch module's outputs on `inputs`, as arrays."""
    with torch.no_grad():
        out = spec.module(*inputs)
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def onnx_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session on `path` with `threads` intra-op threads."""
    _, ort = _onnx_packages()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_exported(path: str | Path, fmt: str, spec: ExportSpec, inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
    """Outputs of the written file on `inputs`: onnxruntime for ONNX, the loaded program for pt2."""
    if fmt == "onnx":
        session = onnx_session(path)
        return session.run(None, {n: t.numpy() for n, t in zip(spec.input_names, inputs)})
    program = torch.export.load(str(path))
    with torch.no_grad():
        out = program.module()(*inputs)
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def max_difference(path: str | Path, fmt: str, spec: ExportSpec, inputs: tuple[torch.Tensor, ...] | None = None) -> float:
    """max |exported - PyTorch| over every output on `inputs` (default: `spec.check_inputs()`, whose batch and
    time differ from the traced ones); an output of another shape is an InputError."""
    inputs = spec.check_inputs() if inputs is None else inputs
    ours, theirs = run_exported(path, fmt, spec, inputs), torch_outputs(spec, inputs)
    worst = 0.0
    for name, a, b in zip(spec.output_names, ours, theirs):
        if a.shape != b.shape:
            raise InputError(f"output {name!r} has shape {a.shape} in the exported model, {b.shape} in PyTorch", path)
        finite = np.isfinite(b)
        if not np.array_equal(finite, np.isfinite(a)):
            raise InputError(f"output {name!r}: the exported model and PyTorch disagree on which values are finite",
                             path)
        if finite.any():
            worst = max(worst, float(np.max(np.abs(a[finite] - b[finite]))))
    return worst
