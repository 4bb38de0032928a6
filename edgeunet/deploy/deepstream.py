"""`edgeunet export-deepstream`: what DeepStream's nvinfer needs to run an edgeunet model as a segmentation network.

Written into a new folder OUT/:

    model.onnx                        the model plus a probability head (below); nvinfer builds and caches its engine
    labels.txt                        class names, one per line
    config_infer_primary_edgeunet.txt the nvinfer [property] file (network-type=2: segmentation)
    deepstream_app_config.txt         a deepstream-app pipeline: source -> streammux -> nvinfer -> segvisual -> sink

Why a probability head: nvinfer's segmentation parser (nvdsinfer's fillSegmentationOutput) gives a pixel the
class c with the largest value that is also > segmentation-threshold, starting from -1; a pixel with none is
-1 (unlabelled). edgeunet graphs output raw logits, which can all be below -1. So the exported graph ends in
  - multi-class: Softmax over classes (argmax unchanged; every maximum is >= 1/C > 0 = segmentation-threshold),
  - binary: two channels [t, sigmoid(logit)] with t = the model's threshold: class 1 exactly when
    sigmoid(logit) > t, else class 0 — the same decision and class ids as edgeunet's own postprocessing.

Preprocessing: nvinfer computes y = net-scale-factor * (x - offsets[c]) on 0..255 pixels; edgeunet trains on
y = (x/255 - mean[c]) / std[c] = (x - 255*mean[c]) / (255*std[c]). offsets are exact per channel; nvinfer has
only one scale, which is exact only when std is equal across channels. When it is not, the exported graph
starts with a per-channel Mul by std_mean/std[c] that makes it exact again (said in the generated config).
"""

from __future__ import annotations

import configparser
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from edgeunet.core.atomic import atomic_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.model_files import ENGINE, model_kind
from edgeunet.core.onnx_model import KEY_SPEC, graph_io, precision_of, read_model, save_onnx, set_metadata
from edgeunet.core.spec import ModelSpec

KEY_DEEPSTREAM = "edgeunet.deepstream"
PROB_OUTPUT = "probabilities"
CONFIG_NAME = "config_infer_primary_edgeunet.txt"
APP_CONFIG_NAME = "deepstream_app_config.txt"
DEFAULT_SOURCE = "file:///opt/nvidia/deepstream/deepstream/samples/streams/sample_720p.mp4"
NETWORK_MODES = {"fp32": 0, "int8": 1, "fp16": 2}  # nvinfer network-mode
COLOR_FORMATS = {"rgb": 0, "gray": 2}  # nvinfer model-color-format (1 = BGR; edgeunet trains on RGB or gray)
EQUAL_STD_RTOL = 1e-6


@dataclass(frozen=True)
class Normalization:
    """nvinfer's y = scale * (x - offsets[c]), and the per-channel correction folded into the graph (None if exact)."""

    scale: float
    offsets: Tuple[float, ...]
    channel_factors: Optional[Tuple[float, ...]]

    @property
    def exact_in_config(self) -> bool:
        return self.channel_factors is None


def normalization(spec: ModelSpec) -> Normalization:
    """net-scale-factor and offsets from the model's mean/std (see the module docstring for the algebra)."""
    std = [float(s) for s in spec.std]
    mean = [float(m) for m in spec.mean]
    if any(s <= 0 for s in std):
        raise EdgeUnetError(f"model std {std} must be positive; re-export the model")
    offsets = tuple(255.0 * m for m in mean)
    if max(std) - min(std) <= EQUAL_STD_RTOL * max(std):
        return Normalization(1.0 / (255.0 * std[0]), offsets, None)
    common = sum(std) / len(std)
    return Normalization(1.0 / (255.0 * common), offsets, tuple(common / s for s in std))


def check_model(path: Path) -> Tuple[Any, Dict[str, str], ModelSpec]:
    """The ONNX, its metadata and spec; one line for anything nvinfer cannot take."""
    path = Path(path)
    if model_kind(path) == ENGINE:
        raise EdgeUnetError(
            f"{path}: pass the ONNX; nvinfer builds its own engine from the exported model.onnx (with the probability head) "
            "and caches it next to the config"
        )
    if path.suffix.lower() != ".onnx":
        raise EdgeUnetError(f"{path}: pass an .onnx model written by `edgeunet export`")
    model, metadata, spec = read_model(path)
    if spec.end_to_end:  # nvinfer scales, converts and normalises on the GPU itself and feeds float tensors: give it the network
        from edgeunet.export.end_to_end import unwrap

        model, spec = unwrap(model, str(path))
        metadata = {k: v for k, v in metadata.items() if k != "edgeunet.end_to_end"}
    if spec.io != "float":
        raise EdgeUnetError(
            f"{path}: a uint8-I/O model; nvinfer feeds float tensors and normalises itself: export with `--io float` for DeepStream"
        )
    inputs, outputs = graph_io(model)
    if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0].dims) != 4 or len(outputs[0].dims) != 4:
        raise EdgeUnetError(f"{path}: expected one NCHW input and one NCHW output; export it with `edgeunet export`")
    if outputs[0].dims[1] not in (None, spec.out_channels):
        raise EdgeUnetError(f"{path}: output has {outputs[0].dims[1]} channels, the model description says {spec.out_channels}")
    if spec.is_binary and not 0.0 < spec.threshold < 1.0:
        raise EdgeUnetError(f"{path}: threshold {spec.threshold} must lie strictly between 0 and 1 for DeepStream; re-export")
    return model, metadata, spec


def _np_dtype(elem_type: int) -> Any:
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(elem_type)


def add_deepstream_head(model: Any, spec: ModelSpec, norm: Normalization) -> Any:
    """The graph with the per-channel input correction (if needed) and the probability head (module docstring)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inputs, outputs = graph_io(model)
    source, logits = inputs[0], outputs[0]
    nodes = list(graph.node)
    prefix = [] if norm.channel_factors is None else _input_correction(graph, source, norm.channel_factors, nodes)
    out_dtype = _np_dtype(logits.elem_type)
    head: List[Any] = []
    if spec.is_binary:
        zero = numpy_helper.from_array(np.zeros((), dtype=out_dtype), "edgeunet_ds_zero")
        cut = numpy_helper.from_array(np.asarray(spec.threshold, dtype=out_dtype), "edgeunet_ds_threshold")
        graph.initializer.extend([zero, cut])
        head += [
            helper.make_node("Sigmoid", [logits.name], ["edgeunet_ds_p"], name="edgeunet_ds_sigmoid"),
            helper.make_node("Mul", ["edgeunet_ds_p", zero.name], ["edgeunet_ds_p0"], name="edgeunet_ds_mul0"),
            helper.make_node("Add", ["edgeunet_ds_p0", cut.name], ["edgeunet_ds_background"], name="edgeunet_ds_background"),
            helper.make_node("Concat", ["edgeunet_ds_background", "edgeunet_ds_p"], [PROB_OUTPUT], name="edgeunet_ds_concat", axis=1),
        ]
        channels: Optional[int] = 2
    else:
        head.append(helper.make_node("Softmax", [logits.name], [PROB_OUTPUT], name="edgeunet_ds_softmax", axis=1))
        channels = logits.dims[1]
    del graph.node[:]
    graph.node.extend(prefix + nodes + head)
    dims = [logits.dims[0], channels, logits.dims[2], logits.dims[3]]
    shape = [d if d is not None else f"ds_dim{i}" for i, d in enumerate(dims)]
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(PROB_OUTPUT, logits.elem_type, shape))
    return model


def _input_correction(graph: Any, source: Any, factors: Tuple[float, ...], nodes: List[Any]) -> List[Any]:
    """Mul the input by factors[c] (shape 1xCx1x1); every consumer of the input reads the corrected tensor."""
    from onnx import helper, numpy_helper

    corrected = "edgeunet_ds_input_corrected"
    for node in nodes:
        for i, name in enumerate(node.input):
            if name == source.name:
                node.input[i] = corrected
    scale = numpy_helper.from_array(np.asarray(factors, dtype=_np_dtype(source.elem_type)).reshape(1, -1, 1, 1), "edgeunet_ds_channel_scale")
    graph.initializer.append(scale)
    return [helper.make_node("Mul", [source.name, scale.name], [corrected], name="edgeunet_ds_channel_scale")]


def mark_for_nvinfer_only(model: Any, spec: ModelSpec, norm: Normalization) -> None:
    """Move the spec under KEY_DEEPSTREAM: edgeunet's own commands then refuse this graph (its output is probabilities
    with a changed channel layout, which edgeunet's postprocessing would misread) instead of giving wrong masks."""
    set_metadata(model, {KEY_DEEPSTREAM: {"head": "softmax" if not spec.is_binary else "threshold,sigmoid", "output": PROB_OUTPUT,
                                          "channel_factors": list(norm.channel_factors) if norm.channel_factors else None,
                                          "spec": spec.to_dict()}})
    kept = [prop for prop in model.metadata_props if prop.key != KEY_SPEC]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)


@dataclass
class DeepStreamExport:
    out: Path
    onnx: Path
    config: Path
    app_config: Path
    labels: Path
    batch_size: int
    network_mode: int
    normalization: Normalization
    notes: List[str]


def _ini(sections: Dict[str, Dict[str, Any]], header: str) -> str:
    """GLib key-file text (nvinfer and deepstream-app read GKeyFile) via configparser, after a comment header."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep keys as written (case matters to GKeyFile)
    for section, values in sections.items():
        parser[section] = {key: str(value) for key, value in values.items()}
    buffer = io.StringIO()
    parser.write(buffer, space_around_delimiters=False)
    return header + buffer.getvalue()


def _comment(lines: List[str]) -> str:
    return "".join(f"# {line}\n" if line else "#\n" for line in lines)


def _resize_note(spec: ModelSpec) -> List[str]:
    """Why the resize keys are what they are: nvinfer must feed the network what edgeunet trained it on."""
    if spec.resize == "letterbox":
        return ["Resize: letterbox model. maintain-aspect-ratio=1 with symmetric-padding=0 scales keeping the aspect",
                "ratio and pads right/bottom with black, as edgeunet did in training (scaling-filter=1, bilinear)."]
    if spec.resize == "native":
        return ["Resize: trained on native-scale crops; nvinfer stretches each frame to infer-dims, so export the",
                "ONNX at the camera's resolution (`edgeunet export --size HxW`) for the same scale as in training."]
    return ["Resize: scaling-filter=1 (bilinear) and maintain-aspect-ratio=0 match edgeunet's cv2.resize preprocessing."]


def nvinfer_config(spec: ModelSpec, norm: Normalization, precision: str, batch: int, source_name: str) -> str:
    """The [property] file for Gst-nvinfer."""
    height, width = spec.input_size
    mode = NETWORK_MODES[precision]
    engine = f"model.onnx_b{batch}_gpu0_{precision}.engine"  # the name nvinfer gives the engine it builds and caches
    offsets = ";".join(f"{o:.6f}" for o in norm.offsets)
    if norm.exact_in_config:
        scale_note = ["std is equal across channels: net-scale-factor and offsets reproduce edgeunet's normalisation exactly."]
    else:
        factors = ", ".join(f"{f:.6f}" for f in norm.channel_factors or ())
        scale_note = [
            "NOT exact in this file alone: nvinfer has ONE net-scale-factor, but this model's std differs per channel",
            f"(std {list(spec.std)}). net-scale-factor uses the mean std; model.onnx here starts with a per-channel Mul",
            f"({factors}) that restores (x/255 - mean[c]) / std[c] exactly. Use it, not the original ONNX/engine.",
        ]
    header = _comment([
        f"nvinfer config written by `edgeunet export-deepstream` from {source_name}.",
        f"classes {spec.num_classes} ({', '.join(spec.class_names)}), input {spec.in_channels}x{height}x{width} {spec.channel_order},",
        f"threshold {spec.threshold}, precision {precision}.",
        "",
        "Preprocessing: nvinfer computes y = net-scale-factor * (x - offsets[c]); edgeunet trained on",
        "y = (x/255 - mean[c]) / std[c], so offsets[c] = 255*mean[c] and net-scale-factor = 1/(255*std).",
        *scale_note,
        "",
        "Output: model.onnx ends in a probability head (softmax; binary: [threshold, sigmoid]) so that nvinfer's",
        "segmentation parser (largest value > segmentation-threshold) yields edgeunet's class ids.",
        "int8: precision comes from the Q/DQ graph (explicit quantization); no int8-calib-file is needed." if precision == "int8" else
        "On first run nvinfer builds the engine from onnx-file and saves it as model-engine-file.",
        *_resize_note(spec),
    ])
    prop = {
        "gpu-id": 0,
        "net-scale-factor": f"{norm.scale:.10g}",
        "offsets": offsets,
        "model-color-format": COLOR_FORMATS["gray" if spec.in_channels == 1 else "rgb"],
        "onnx-file": "model.onnx",
        "model-engine-file": engine,
        "labelfile-path": "labels.txt",
        "infer-dims": f"{spec.in_channels};{height};{width}",
        "batch-size": batch,
        "network-mode": mode,
        "network-type": 2,
        "num-detected-classes": spec.num_classes,
        "output-blob-names": PROB_OUTPUT,
        "segmentation-threshold": 0.0,
        "segmentation-output-order": 0,
        "maintain-aspect-ratio": 1 if spec.resize == "letterbox" else 0,
        "symmetric-padding": 0,
        "scaling-filter": 1,
        "process-mode": 1,
        "gie-unique-id": 1,
        "interval": 0,
    }
    return _ini({"property": prop}, header)


def app_config(spec: ModelSpec, batch: int, source_uri: str) -> str:
    """A deepstream-app pipeline that shows the class map (segvisual) for one source."""
    height, width = spec.input_size
    header = _comment([
        "deepstream-app config written by `edgeunet export-deepstream`. Run from this folder:",
        f"  deepstream-app -c {APP_CONFIG_NAME}",
        "source0 type: 3 = URI (file:// or rtsp://), 1 = V4L2 camera (camera-v4l2-dev-node=N), 5 = CSI camera (Jetson).",
        "sink0 type: 2 = EGL display, 1 = fakesink (headless; with enable-perf-measurement to read FPS), 4 = RTSP (rtsp-port).",
        "segvisual draws the class map at the network resolution.",
    ])
    sections: Dict[str, Dict[str, Any]] = {
        "application": {"enable-perf-measurement": 1, "perf-measurement-interval-sec": 5},
        "source0": {"enable": 1, "type": 3, "uri": source_uri, "num-sources": 1, "gpu-id": 0},
        "streammux": {"gpu-id": 0, "batch-size": batch, "batched-push-timeout": 40000, "width": 1280, "height": 720,
                      "live-source": 0 if source_uri.startswith("file://") else 1},
        "primary-gie": {"enable": 1, "gpu-id": 0, "batch-size": batch, "gie-unique-id": 1, "config-file": CONFIG_NAME},
        "segvisual": {"enable": 1, "gpu-id": 0, "batch-size": batch, "width": width, "height": height},
        "sink0": {"enable": 1, "type": 2, "sync": 0, "gpu-id": 0},
        "tests": {"file-loop": 0},
    }
    return _ini(sections, header)


def _resolve_batch(model: Any, requested: Optional[int]) -> int:
    inputs, _ = graph_io(model)
    fixed = inputs[0].dims[0]
    if requested is None:
        return int(fixed) if fixed is not None else 1
    if requested < 1:
        raise EdgeUnetError(f"--batch-size {requested}: must be at least 1")
    if fixed is not None and requested != fixed:
        raise EdgeUnetError(f"--batch-size {requested}: the ONNX has a fixed batch of {fixed}; re-export with --dynamic or --batch {requested}")
    return requested


def export_deepstream(
    model_path: Path, out: Path, fp16: bool = False, batch_size: Optional[int] = None, source_uri: str = DEFAULT_SOURCE,
) -> DeepStreamExport:
    """Write OUT/ (a new or empty folder) with the model, labels, nvinfer config and a deepstream-app config."""
    model_path = Path(model_path)
    model, metadata, spec = check_model(model_path)
    precision = precision_of(metadata)
    if fp16 and precision == "int8":
        raise EdgeUnetError(f"{model_path}: is INT8 (Q/DQ); drop --fp16")
    if fp16:
        precision = "fp16"
    batch = _resolve_batch(model, batch_size)
    norm = normalization(spec)
    notes: List[str] = []
    if read_model(model_path)[2].end_to_end:
        notes.append("an end-to-end model: model.onnx is its network (float NCHW in); nvinfer resizes and normalises each frame and "
                     "nvsegvisual colours the mask on the GPU, the steps the end-to-end wrapper would have done")
    if not norm.exact_in_config:
        notes.append(
            f"std differs per channel ({spec.std}): nvinfer has one net-scale-factor, so model.onnx starts with a per-channel Mul that "
            "keeps the normalisation exact (see the config's header)"
        )
    model = add_deepstream_head(model, spec, norm)
    mark_for_nvinfer_only(model, spec, norm)
    out = Path(out)
    with atomic_dir(out) as tmp:
        save_onnx(model, tmp / "model.onnx")
        (tmp / "labels.txt").write_text("".join(f"{name}\n" for name in spec.class_names), encoding="utf-8")
        (tmp / CONFIG_NAME).write_text(nvinfer_config(spec, norm, precision, batch, model_path.name), encoding="utf-8")
        (tmp / APP_CONFIG_NAME).write_text(app_config(spec, batch, source_uri), encoding="utf-8")
    return DeepStreamExport(out, out / "model.onnx", out / CONFIG_NAME, out / APP_CONFIG_NAME, out / "labels.txt", batch,
                            NETWORK_MODES[precision], norm, notes)


def nvinfer_class_map(probabilities: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """nvinfer's segmentation parser in numpy (NCHW, one image CxHxW): for tests and for users checking a config."""
    probs = np.asarray(probabilities, dtype=np.float32)
    best = np.full(probs.shape[1:], -1.0, dtype=np.float32)
    classes = np.full(probs.shape[1:], -1, dtype=np.int32)
    for c in range(probs.shape[0]):
        take = (probs[c] > best) & (probs[c] > threshold)
        classes[take] = c
        best[take] = probs[c][take]
    return classes


def summary(result: DeepStreamExport) -> List[str]:
    lines = [
        f"wrote {result.out}/: model.onnx (probability head), labels.txt, {CONFIG_NAME}, {APP_CONFIG_NAME}",
        f"nvinfer: network-type 2, batch-size {result.batch_size}, network-mode {result.network_mode}, "
        f"net-scale-factor {result.normalization.scale:.6g}, offsets {';'.join(f'{o:.3f}' for o in result.normalization.offsets)}",
        f"run: cd {result.out} && deepstream-app -c {APP_CONFIG_NAME}",
    ]
    return lines + [f"note: {note}" for note in result.notes]
