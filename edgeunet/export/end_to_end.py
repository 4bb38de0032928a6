"""End-to-end graphs: the camera frame in, the class-id mask at the frame's resolution out, every pixel step inside.

Why: at 1080p the CPU pixel work around a small UNet (resize, normalise, bilinear upsampling of every logit plane,
argmax, overlay) costs more than the model (issue 21); TensorRT does it on the GPU for a fraction of a millisecond.
The wrapper is built with onnx.helper around the network graph (no torch), so it wraps a checkpoint's export and an
existing .onnx alike (fp32, fp16 or a calibrated INT8 one), and `unwrap` gives the network back for calibration.
It mirrors core/processing.py step by step, so masks agree with the CPU path:

    frame [1,H,W,3] BGR uint8 -> Cast FLOAT -> Transpose NCHW -> [1x1 Conv + Floor: gray in cv2's fixed point]
    -> cv2.resize INTER_LINEAR bit for bit to the model size (Gather rows/columns, Mul, Floor: cv2_linear)
    -> [Gather: BGR -> RGB] -> [Pad bottom/right with 0: letterbox, native] -> Mul, Add (x/255 - mean)/std -> network
    -> [Slice: un-pad] -> Resize linear half_pixel to H x W (logits, as postprocess does) -> ArgMax | Greater (binary)
    -> Cast FLOAT -> Cast UINT8 -> mask [1,H,W]
    optional overlay: Gather colour and alpha per class -> frame + alpha (colour - frame) -> Round -> Clip -> Cast UINT8

TensorRT rules (export/trt_compat.py, from the operator matrices in trt_rules.json): every op above takes FLOAT in the
8.5, 8.6 and 10.1 parsers; UINT8 appears only as the network input and outputs, through a Cast from/to FLOAT. The 8.5
parser has no UINT8 at all: `frame_dtype="float32"` makes its variant (float32 frame in, INT32 mask, float overlay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.onnx_model import KEY_END_TO_END, KEY_IO, KEY_SPEC, input_info, json_field, read_metadata, set_metadata
from edgeunet.core.processing import letterbox_size, logit_threshold, native_input_size
from edgeunet.core.spec import END_TO_END, FRAME_DTYPES, OVERLAY_OUTPUT, ModelSpec

FRAME, MASK, OVERLAY = "frame", "mask", OVERLAY_OUTPUT
NET_IN, NET_OUT = "e2e/network_input", "e2e/network_output"
PREFIX = "e2e/"
# cv2.COLOR_BGR2GRAY's fixed-point weights (sum 2**14), in the frame's B, G, R order
GRAY_FIXED = (1868, 9617, 4899)


@dataclass(frozen=True)
class FrameOptions:
    """What the wrapper is built for: the frame (H, W), its element type, and the overlay's alpha (None: no overlay)."""

    frame_size: Tuple[int, int]
    frame_dtype: str = "uint8"
    overlay_alpha: Optional[float] = None

    def check(self) -> None:
        if len(self.frame_size) != 2 or min(self.frame_size) < 16:
            raise EdgeUnetError(f"--frame-size {self.frame_size}: two sides of at least 16 (e.g. 1080x1920, height x width)")
        if self.frame_dtype not in FRAME_DTYPES:
            raise EdgeUnetError(f"--frame-dtype {self.frame_dtype}: choose {' or '.join(FRAME_DTYPES)}")
        if self.overlay_alpha is not None and not 0.0 <= self.overlay_alpha <= 1.0:
            raise EdgeUnetError(f"--alpha {self.overlay_alpha}: choose a value from 0 to 1")


def geometry(spec: ModelSpec, frame_hw: Sequence[int]) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """((network H, W), (inner H, W)): the size the network is fed, and the part of it the frame fills (the rest is padding)."""
    frame = (int(frame_hw[0]), int(frame_hw[1]))
    if spec.resize == "native":
        return native_input_size(frame, spec), frame
    net = (int(spec.input_size[0]), int(spec.input_size[1]))
    return net, letterbox_size(frame, spec)


class _Graph:
    """Nodes and constants of the wrapper, each named under e2e/ so that `unwrap` and readers can tell them apart."""

    def __init__(self) -> None:
        self.nodes: List[Any] = []
        self.initializers: List[Any] = []
        self.count = 0

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        full = f"{PREFIX}{name}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), full))
        return full

    def op(self, op_type: str, inputs: Sequence[str], output: Optional[str] = None, **attrs: Any) -> str:
        from onnx import helper

        self.count += 1
        name = f"{PREFIX}{op_type.lower()}_{self.count}"
        out = output or name
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    def floor_div(self, x: str, divisor: int) -> str:
        """floor(x / 2**k): exact in float32 for the integers used here (a power-of-two divide loses no bits)."""
        return self.op("Floor", [self.op("Mul", [x, self.const(f"inv{divisor}_{self.count}", np.float32(1.0 / divisor))])])

    def resize(self, x: str, sizes: Sequence[int], tag: str) -> str:
        """Bilinear with half-pixel centres and clamped borders: cv2.resize INTER_LINEAR's geometry (no antialiasing)."""
        sizes_name = self.const(f"{tag}_sizes", list(sizes), np.int64)
        return self.op("Resize", [x, "", "", sizes_name], mode="linear", coordinate_transformation_mode="half_pixel")


def _preprocess(g: _Graph, spec: ModelSpec, options: FrameOptions, net_hw: Tuple[int, int], inner: Tuple[int, int]) -> str:
    """frame -> the normalised network input (NET_IN); returns the float NHWC frame for the overlay."""
    frame_f = g.op("Cast", [FRAME], to=1) if options.frame_dtype == "uint8" else FRAME
    x = g.op("Transpose", [frame_f], perm=[0, 3, 1, 2])
    if spec.in_channels == 1:  # cv2.COLOR_BGR2GRAY in its fixed point: (1868 B + 9617 G + 4899 R + 2**13) >> 14
        x = g.op("Conv", [x, g.const("gray", np.asarray(GRAY_FIXED, np.float32).reshape(1, 3, 1, 1))])
        x = g.floor_div(g.op("Add", [x, g.const("gray_round", np.float32(1 << 13))]), 1 << 14)
    frame_hw = (int(options.frame_size[0]), int(options.frame_size[1]))
    if inner != frame_hw:
        x = cv2_linear(g, x, frame_hw, inner)
    if spec.in_channels == 3:  # after the resize (fewer pixels); a channel permutation commutes with it exactly
        x = g.op("Gather", [x, g.const("rgb_from_bgr", [2, 1, 0], np.int64)], axis=1)
    if net_hw != inner:
        pads = [0, 0, 0, 0, 0, 0, net_hw[0] - inner[0], net_hw[1] - inner[1]]
        x = g.op("Pad", [x, g.const("pads", pads, np.int64), g.const("pad_value", np.float32(0.0))], mode="constant")
    std = np.asarray(spec.std, np.float32).reshape(1, -1, 1, 1)
    mean = np.asarray(spec.mean, np.float32).reshape(1, -1, 1, 1)
    x = g.op("Mul", [x, g.const("scale", 1.0 / (255.0 * std))])
    g.op("Add", [x, g.const("offset", -mean / std)], output=NET_IN)
    return frame_f


def cv2_taps(n_in: int, n_out: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(first source index, second source index, weight0, weight1) per output pixel, as cv2.resize INTER_LINEAR computes
    them for uint8 (float32 half-pixel positions, borders clamped, weights rounded to 1/2048: INTER_RESIZE_COEF_BITS 11)."""
    scale = 1.0 / (float(n_out) / n_in)
    pos = ((np.arange(n_out) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(pos).astype(np.int64)
    frac = (pos - first).astype(np.float32)
    edge = (first < 0) | (first >= n_in - 1)
    frac[edge] = 0.0
    first = np.clip(first, 0, n_in - 1)
    w0 = np.round((1.0 - frac) * 2048).astype(np.float32)
    w1 = np.round(frac * 2048).astype(np.float32)
    return first, np.minimum(first + 1, n_in - 1), w0, w1


def cv2_linear(g: _Graph, x: str, in_hw: Tuple[int, int], out_hw: Tuple[int, int]) -> str:
    """cv2.resize(uint8, INTER_LINEAR) bit for bit when downscaling (frames to the model), in float ops that stay exact
    (every value < 2**24); upscaling is within one grey level on a few pixels (cv2's vector tail rounds differently).

    Why not ONNX Resize: cv2 resizes uint8 in fixed point (11-bit weights; the vertical pass as its SIMD kernel does it,
    VResizeLinearVec_32s8u: ((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16) + 2 >> 2), and the float result rounded
    differs by one grey level on ~12% of pixels, which moved ~0.2% of a weak model's mask pixels. Exact at 2x too, where
    cv2 switches to INTER_AREA (the same sums). Rows first (the two source rows per output row), then columns.
    """
    ys0, ys1, b0, b1 = cv2_taps(in_hw[0], out_hw[0])
    xs0, xs1, a0, a1 = cv2_taps(in_hw[1], out_hw[1])

    def columns(rows: str, tag: str) -> str:  # the horizontal pass: exact integer sums (<= 255 * 4096)
        left = g.op("Mul", [g.op("Gather", [rows, g.const(f"{tag}_x0", xs0, np.int64)], axis=3), g.const(f"{tag}_a0", a0)])
        right = g.op("Mul", [g.op("Gather", [rows, g.const(f"{tag}_x1", xs1, np.int64)], axis=3), g.const(f"{tag}_a1", a1)])
        return g.op("Add", [left, right])

    def mul_hi(t: str, beta: np.ndarray, tag: str) -> str:  # floor(t * beta / 2**16), split so no product passes 2**24
        high = g.op("Mul", [t, g.const(f"{tag}_bh", (beta // 64).reshape(1, 1, -1, 1))])
        low = g.op("Mul", [t, g.const(f"{tag}_bl", (beta % 64).reshape(1, 1, -1, 1))])
        q1 = g.floor_div(high, 1024)
        r1 = g.op("Sub", [high, g.op("Mul", [q1, g.const(f"{tag}_1024", np.float32(1024))])])
        rest = g.op("Add", [g.op("Mul", [r1, g.const(f"{tag}_64", np.float32(64))]), low])
        return g.op("Add", [q1, g.floor_div(rest, 1 << 16)])

    terms = []
    for tag, ys, beta in (("r0", ys0, b0), ("r1", ys1, b1)):
        rows = g.op("Gather", [x, g.const(f"{tag}_y", ys, np.int64)], axis=2)
        terms.append(mul_hi(g.floor_div(columns(rows, tag), 16), beta, tag))
    total = g.op("Add", [g.op("Add", terms), g.const("vround", np.float32(2))])
    return g.floor_div(total, 4)


def _postprocess(g: _Graph, spec: ModelSpec, options: FrameOptions, net_hw: Tuple[int, int], inner: Tuple[int, int], frame_f: str) -> None:
    """NET_OUT (logits) -> MASK (and OVERLAY): un-pad, bilinear upsampling of the logits, decision, colours."""
    height, width = options.frame_size
    y = NET_OUT
    if net_hw != inner:
        y = g.op("Slice", [y, g.const("crop_starts", [0, 0], np.int64), g.const("crop_ends", list(inner), np.int64),
                           g.const("crop_axes", [2, 3], np.int64)])
    if inner != (height, width):
        y = g.resize(y, [1, spec.out_channels, height, width], "logits_to_frame")
    if spec.is_binary:
        decided = g.op("Cast", [g.op("Greater", [y, g.const("cut", np.float32(logit_threshold(spec)))])], to=1)
        ids_f = g.op("Reshape", [decided, g.const("mask_shape", [1, height, width], np.int64)])
        index = g.op("Cast", [ids_f], to=6)  # INT32 class ids for Gather
    else:
        index = g.op("ArgMax", [y], axis=1, keepdims=0)  # first maximum on ties, like np.argmax
        ids_f = g.op("Cast", [index], to=1)
    g.op("Cast", [ids_f], output=MASK, to=2 if options.frame_dtype == "uint8" else 6)
    if options.overlay_alpha is None:
        return
    colours = np.asarray([list(c)[:3] for c in spec.colors[: spec.num_classes]], np.float32)
    alphas = np.full((spec.num_classes,), float(options.overlay_alpha), np.float32)
    alphas[0] = 0.0  # background keeps the frame's pixels, as core/overlay.overlay does
    colour = g.op("Gather", [g.const("colours", colours), index], axis=0)
    alpha = g.op("Reshape", [g.op("Gather", [g.const("alphas", alphas), index], axis=0),
                             g.const("alpha_shape", [1, height, width, 1], np.int64)])
    blend = g.op("Add", [frame_f, g.op("Mul", [alpha, g.op("Sub", [colour, frame_f])])])
    clipped = g.op("Clip", [g.op("Round", [blend]), g.const("lo", np.float32(0.0)), g.const("hi", np.float32(255.0))],
                   output=None if options.frame_dtype == "uint8" else OVERLAY)
    if options.frame_dtype == "uint8":
        g.op("Cast", [clipped], output=OVERLAY, to=2)


def _rename(graph: Any, renames: Dict[str, str]) -> None:
    """Rename tensors everywhere in `graph` (node I/O, graph I/O, value_info)."""
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        value.name = renames.get(value.name, value.name)


def _network_io(model: Any, source: str) -> Tuple[str, str, List[Optional[int]]]:
    name, shape, elem = input_info(model)
    if elem != 1 or len(shape) != 4 or len(model.graph.output) != 1:
        raise EdgeUnetError(f"{source}: the network must take one NCHW float32 input and give one output (an `edgeunet export` "
                            "ONNX with --io float); re-export it")
    if shape[0] not in (None, 1):
        raise EdgeUnetError(f"{source}: batch {shape[0]}; an end-to-end model takes one frame: re-export with --batch 1")
    return name, model.graph.output[0].name, shape


def wrap(network: Any, spec: ModelSpec, options: FrameOptions, source: str = "model") -> Any:
    """The end-to-end ModelProto around `network` (a float-I/O edgeunet graph), with its metadata; `network` is not changed."""
    import onnx
    from onnx import TensorProto, helper

    options.check()
    if spec.io != "float":
        raise EdgeUnetError(f"{source}: io {spec.io}; an end-to-end model wraps a float-I/O network (`edgeunet export CHECKPOINT`)")
    in_name, out_name, shape = _network_io(network, source)
    net_hw, inner = geometry(spec, options.frame_size)
    if all(isinstance(s, int) for s in shape[2:]) and tuple(shape[2:]) != net_hw:
        redo = "--dynamic" if spec.resize == "native" else f"--size {net_hw[0]} {net_hw[1]}"
        raise EdgeUnetError(f"{source}: the network takes {shape[2]}x{shape[3]} but this frame needs {net_hw[0]}x{net_hw[1]}; "
                            f"re-export it with {redo}")
    model = onnx.ModelProto()
    model.CopyFrom(network)
    graph = model.graph
    _rename(graph, {in_name: NET_IN, out_name: NET_OUT})
    g = _Graph()
    frame_f = _preprocess(g, spec, options, net_hw, inner)
    _postprocess(g, spec, options, net_hw, inner, frame_f)
    height, width = options.frame_size
    elem = TensorProto.UINT8 if options.frame_dtype == "uint8" else TensorProto.FLOAT
    mask_elem = TensorProto.UINT8 if options.frame_dtype == "uint8" else TensorProto.INT32
    outputs = [helper.make_tensor_value_info(MASK, mask_elem, [1, height, width])]
    if options.overlay_alpha is not None:
        outputs.append(helper.make_tensor_value_info(OVERLAY, elem, [1, height, width, 3]))
    network_nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(g.nodes[: _count_until(g.nodes, NET_IN)] + network_nodes + g.nodes[_count_until(g.nodes, NET_IN):])
    graph.initializer.extend(g.initializers)
    # Declared, so that unwrap (onnx.utils.Extractor) finds the network's boundary without relying on shape inference.
    net_output = [v for v in graph.output if v.name == NET_OUT]
    graph.value_info.append(helper.make_tensor_value_info(NET_IN, TensorProto.FLOAT, [1, spec.in_channels, net_hw[0], net_hw[1]]))
    graph.value_info.extend(net_output)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(FRAME, elem, [1, height, width, 3]))
    del graph.output[:]
    graph.output.extend(outputs)
    e2e_spec = spec.replaced(source, io=END_TO_END, frame_size=[height, width], frame_dtype=options.frame_dtype,
                             overlay_alpha=options.overlay_alpha)
    set_metadata(model, {KEY_SPEC: e2e_spec.to_json(), KEY_IO: END_TO_END, KEY_END_TO_END: {
        "frame_size": [height, width], "frame_dtype": options.frame_dtype, "overlay_alpha": options.overlay_alpha,
        "outputs": [o.name for o in outputs], "network_input": in_name, "network_output": out_name,
        "network_size": list(net_hw)}})
    return model


def _count_until(nodes: Sequence[Any], tensor: str) -> int:
    """How many wrapper nodes come before the network: those up to the one that makes `tensor` (topological order)."""
    for i, node in enumerate(nodes):
        if tensor in node.output:
            return i + 1
    raise AssertionError(f"no wrapper node makes {tensor}")  # a bug in _preprocess, not a user error


def is_end_to_end(metadata: Dict[str, str]) -> bool:
    return KEY_END_TO_END in metadata


def frame_options(metadata: Dict[str, str], source: str = "model") -> FrameOptions:
    """The options an end-to-end file was built with (to wrap a calibrated or converted network the same way)."""
    info = json_field(metadata, KEY_END_TO_END)
    if not isinstance(info, dict):
        raise EdgeUnetError(f"{source}: not an end-to-end model (no {KEY_END_TO_END} metadata); export one with --end-to-end")
    try:
        alpha = info.get("overlay_alpha")
        options = FrameOptions((int(info["frame_size"][0]), int(info["frame_size"][1])), str(info.get("frame_dtype", "uint8")),
                               None if alpha is None else float(alpha))
    except (KeyError, TypeError, ValueError, IndexError):
        raise EdgeUnetError(f"{source}: its {KEY_END_TO_END} metadata is malformed; export it again with --end-to-end") from None
    options.check()
    return options


def unwrap(model: Any, source: str = "model") -> Tuple[Any, ModelSpec]:
    """(network ModelProto with float I/O and its metadata, its float spec): the part that calibration and fp16 change."""
    import onnx

    metadata = read_metadata(model)
    info = json_field(metadata, KEY_END_TO_END)
    if not isinstance(info, dict):
        raise EdgeUnetError(f"{source}: not an end-to-end model (no {KEY_END_TO_END} metadata)")
    network = onnx.utils.Extractor(model).extract_model([NET_IN], [NET_OUT])
    _rename(network.graph, {NET_IN: str(info.get("network_input") or "input"), NET_OUT: str(info.get("network_output") or "output")})
    spec = ModelSpec.from_json(metadata[KEY_SPEC], source).replaced(source, io="float", frame_size=[], overlay_alpha=None)
    kept = {k: v for k, v in metadata.items() if k != KEY_END_TO_END}
    kept.update({KEY_SPEC: spec.to_json(), KEY_IO: "float"})
    set_metadata(network, kept)
    network.producer_name = model.producer_name
    return network, spec
