"""`edgeunet stream`: any source -> segmentation -> any sinks, in overlapping threads, with honest per-stage latency.

    capture -> [q] -> preprocess -> [q] -> inference -> [q] -> postprocess -> [q] -> overlay -> [q] -> sink writer

Why threads: OpenCV and ONNX Runtime release the GIL, so while the model runs on frame n the next
frame is decoded and preprocessed and the previous one is drawn and written; end-to-end FPS then
approaches model-only FPS. Why these queues: a file must lose no frame, so its queues block the
producer (size `queue_size`); a live source (or `--realtime`) must never show old frames, so the
two hand-overs before inference hold one frame and a newer frame replaces an unconsumed one, which
is counted as a drop. Queues therefore stay bounded and latency cannot build up.

Timing: each stage's time per frame, and end-to-end from the frame's arrival (grab for a camera or
file, after pacing for --realtime) to the moment every sink has it, all recorded by edgeunet.stream.stats
(the recorder `bench` uses), plus processed FPS and dropped / corrupt / reconnect counts.

The Python API is `Stream` (iterate over `FrameResult`s, or `run()`); `measure_pipeline` is bench's
end-to-end measurement. No torch import here: a .onnx or .engine model streams without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Union

import cv2
import numpy as np

from edgeunet.core.atomic import atomic_write_text, ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.overlay import colour_lut, colourise, contour_overlay, overlay, to_bgr
from edgeunet.core.processing import postprocess, preprocess
from edgeunet.runtime.base import Backend, backend_for, load_backend
from edgeunet.stream.sinks import Sink, display_problem, open_sinks
from edgeunet.stream.sources import CORRUPT, END, OK, open_source, parse_source
from edgeunet.stream.stats import END_TO_END, LatencyRecorder

SCHEMA = "edgeunet-stream/1"
OVERLAYS = ("alpha", "mask", "side", "contour")
MAX_BACKOFF_S = 8.0
CAPTURE_GRACE_S = 2.0  # after a stop, how long a capture stuck in a blocking read may hold the pipeline
Log = Callable[[str], None]


@dataclass
class StreamOptions:
    """How frames are drawn, paced and recovered; the CLI flags of `edgeunet stream`, one for one."""

    overlay: str = "alpha"  # alpha | mask | side | contour
    alpha: float = 0.45
    hud: bool = True
    max_frames: Optional[int] = None
    realtime: bool = False  # pace a file like a camera at its own FPS (or `fps`), dropping what the model cannot keep up with
    fps: Optional[float] = None  # pacing rate for --realtime and the frame rate written into video outputs
    loop: bool = False
    reconnect: int = 3  # live source lost: reopen attempts (back-off 0.5, 1, 2, 4, 8, 8... s) before the run ends
    reconnect_delay: float = 0.5
    queue_size: int = 2
    warmup: int = 3  # untimed inferences before the clock starts

    def check(self) -> "StreamOptions":
        if self.overlay not in OVERLAYS:
            raise EdgeUnetError(f"--overlay {self.overlay}: choose from {', '.join(OVERLAYS)}")
        if not 0.0 <= self.alpha <= 1.0:
            raise EdgeUnetError(f"--alpha {self.alpha}: must be between 0 and 1")
        if self.max_frames is not None and self.max_frames < 1:
            raise EdgeUnetError(f"--max-frames {self.max_frames}: must be at least 1")
        if self.fps is not None and self.fps <= 0:
            raise EdgeUnetError(f"--fps {self.fps}: must be above 0")
        if self.reconnect < 0 or self.queue_size < 1 or self.warmup < 0:
            raise EdgeUnetError("--reconnect, queue size and warm-up must not be negative")
        return self


@dataclass
class FrameResult:
    """One processed frame, as the Python API yields it. `timings` holds ms per stage and 'end_to_end'."""

    index: int
    frame: np.ndarray  # the decoded source frame (BGR or gray uint8), untouched
    mask: np.ndarray  # class ids (uint8), the frame's size
    view: np.ndarray  # what the sinks received (overlay, HUD)
    timings: Dict[str, float]
    t_capture: float  # time.perf_counter() when the frame arrived


@dataclass
class _Packet:
    index: int
    frame: np.ndarray
    t_capture: float
    timings: Dict[str, float] = field(default_factory=dict)
    tensor: Any = None
    output: Any = None
    mask: Any = None
    view: Any = None


# -- hand-over between stages --------------------------------------------------------------------
class Closed(Exception):
    """The channel is closed and empty: everything upstream has finished."""


class Channel:
    """A bounded hand-over. block: the producer waits while full. latest: one slot, a new item replaces an unconsumed one (a drop)."""

    def __init__(self, name: str, capacity: int = 2, latest: bool = False, on_drop: Optional[Callable[[], None]] = None) -> None:
        self.name = name
        self.latest = latest
        self.capacity = 1 if latest else max(1, int(capacity))
        self.max_depth = 0
        self.dropped = 0
        self._items: Deque[Any] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._on_drop = on_drop

    def put(self, item: Any) -> bool:
        """False when the channel was closed (the consumer is gone): the producer should stop."""
        with self._cond:
            if self.latest and self._items and not self._closed:
                self._items.popleft()
                self.dropped += 1
                if self._on_drop is not None:
                    self._on_drop()
            while len(self._items) >= self.capacity and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._items.append(item)
            self.max_depth = max(self.max_depth, len(self._items))
            self._cond.notify_all()
            return True

    def wait_room(self) -> bool:
        """Block until a put would not wait (False once closed): a file is decoded only when its frame can move on."""
        with self._cond:
            while len(self._items) >= self.capacity and not self._closed:
                self._cond.wait()
            return not self._closed

    def get(self) -> Any:
        with self._cond:
            while not self._items:
                if self._closed:
                    raise Closed(self.name)
                self._cond.wait()
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self, discard: bool = False) -> None:
        with self._cond:
            self._closed = True
            if discard:
                self._items.clear()
            self._cond.notify_all()

    def stats(self) -> Dict[str, Any]:
        return {"mode": "latest" if self.latest else "block", "capacity": self.capacity, "max_depth": self.max_depth, "dropped": self.dropped}


# -- drawing -----------------------------------------------------------------------------------------
def render(frame: np.ndarray, mask: np.ndarray, mode: str, lut: np.ndarray, colors: Sequence[Sequence[int]], alpha: float) -> np.ndarray:
    """The picture the sinks get; OpenCV kernels only (LUT, addWeighted, copyTo, findContours): no per-pixel Python."""
    if mode == "alpha":
        return overlay(frame, mask, lut, alpha)
    if mode == "mask":
        return colourise(mask, lut)
    if mode == "contour":
        return contour_overlay(frame, mask, colors)
    return cv2.hconcat([to_bgr(frame), colourise(mask, lut)])


def draw_hud(view: np.ndarray, text: str) -> None:
    """White text on a dark outline, top-left, scaled with the frame; drawn in place."""
    scale = max(0.4, view.shape[1] / 1400.0)
    y = int(10 + 22 * scale)
    cv2.putText(view, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(3, int(4 * scale)), cv2.LINE_AA)
    cv2.putText(view, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, int(1.5 * scale)), cv2.LINE_AA)


def warm_up(backend: Backend, runs: int, frame_size: Optional[Sequence[int]] = None, options: Optional[StreamOptions] = None) -> None:
    """First calls allocate, pick kernels and start OpenCV's thread pool; they must not count as the stream's latency.

    The model runs `runs` times; when `frame_size` (w, h) is given, one dummy frame of that size also
    goes through preprocess, postprocess and drawing (the first frame's overlay alone can take 50 ms).
    """
    if runs <= 0:
        return
    spec = backend.spec
    width, height = frame_size or (spec.input_size[1], spec.input_size[0])
    frame = np.zeros((int(height), int(width), 3), np.uint8)
    tensor = preprocess(frame, spec)
    output = backend.run(tensor)
    for _ in range(runs - 1):
        backend.run(tensor)
    if frame_size is not None and options is not None:
        mask = postprocess(output, spec, (frame.shape[0], frame.shape[1]))
        render(frame, mask, options.overlay, colour_lut(spec.colors), spec.colors, options.alpha)


# -- the pipeline ------------------------------------------------------------------------------------
class _Pipeline:
    """Threads and channels of one run; `Stream` owns the model, source and sinks and hands them in."""

    def __init__(self, backend: Backend, source: Any, sinks: List[Sink], options: StreamOptions, recorder: LatencyRecorder,
                 log: Log, results: Optional[Channel] = None) -> None:
        self.backend, self.source, self.sinks, self.options, self.rec, self.log = backend, source, sinks, options, recorder, log
        self.spec = backend.spec
        self.lut = colour_lut(self.spec.colors)
        self.dropping = bool(source.live or options.realtime)
        self.paced = bool(options.realtime and not source.live)
        self.pace_fps = float(options.fps or source.fps or 30.0)
        self.results = results
        self.active: List[Sink] = list(sinks)
        self.failures: List[Dict[str, Any]] = []
        self.stop_event = threading.Event()
        self.ended: Optional[str] = None
        self.lost = False
        self.error: Optional[BaseException] = None
        self._stopped_at: Optional[float] = None
        self._lock = threading.Lock()
        drop = lambda: self.rec.count("dropped")  # noqa: E731 - a one-line callback
        size = options.queue_size
        self.channels = [
            Channel("capture", size, latest=self.dropping, on_drop=drop),
            Channel("preprocess", size, latest=self.dropping, on_drop=drop),
            Channel("inference", size),
            Channel("postprocess", size),
            Channel("overlay", size),
        ]
        # (name, per-frame work, once-per-thread set-up)
        steps: List[Any] = [("preprocess", self._preprocess, None), ("inference", self._infer, None),
                            ("postprocess", self._postprocess, None), ("overlay", self._overlay, self._prepare_overlay)]
        self.threads = [threading.Thread(target=self._capture_loop, name="stream-capture", daemon=True)]
        for i, (name, fn, setup) in enumerate(steps):
            self.threads.append(threading.Thread(target=self._stage_loop, args=(name, fn, setup, self.channels[i], self.channels[i + 1]),
                                                 name=f"stream-{name}", daemon=True))
        self.threads.append(threading.Thread(target=self._sink_loop, args=(self.channels[-1],), name="stream-sink", daemon=True))

    # -- control ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.rec.start()
        for thread in self.threads:
            thread.start()

    def stop(self, reason: str) -> None:
        with self._lock:
            if self.ended is None:
                self.ended = reason
            if self._stopped_at is None:
                self._stopped_at = time.perf_counter()
        self.stop_event.set()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.stop(f"error: {exc}")
        for channel in self.channels:
            channel.close(discard=True)
        if self.results is not None:
            self.results.close(discard=True)

    def join(self) -> None:
        """Wait for the run to finish; Ctrl-C asks for a clean stop (a second one drops the frames in flight)."""
        interrupts = 0
        while True:
            try:
                self._join_all()
                return
            except KeyboardInterrupt:
                interrupts += 1
                self.stop("interrupted (Ctrl-C)")
                if interrupts > 1:
                    for channel in self.channels:
                        channel.close(discard=True)

    def _join_all(self) -> None:
        capture = self.threads[0]
        for thread in self.threads[1:]:
            while thread.is_alive():
                thread.join(0.1)
                stuck = self._stopped_at is not None and time.perf_counter() - self._stopped_at > CAPTURE_GRACE_S
                if stuck and capture.is_alive():
                    self.channels[0].close()  # a read blocked on a dead network source must not hold the rest
        capture.join(0.5)

    @property
    def capture_done(self) -> bool:
        return not self.threads[0].is_alive()

    # -- capture ----------------------------------------------------------------------------------
    def _capture_loop(self) -> None:
        out = self.channels[0]
        index = 0
        due: Optional[float] = None
        limit = self.options.max_frames if not self.dropping else None
        try:
            while not self.stop_event.is_set():
                if limit is not None and index >= limit:
                    self.stop("max frames")
                    break
                if not self.dropping and not out.wait_room():
                    break
                began = time.perf_counter()
                status, frame, arrived = self.source.read()
                ms = (time.perf_counter() - began) * 1000.0
                if status == OK and frame is not None:
                    self.rec.add("capture", ms)
                    self.rec.count("captured")
                    if self.paced:
                        due, arrived = self._pace(due)
                        if self.stop_event.is_set():
                            break
                    if not out.put(_Packet(index, frame, arrived, {"capture": ms})):
                        break
                    index += 1
                elif status == CORRUPT:
                    self.rec.count("corrupt")
                elif status == END:
                    if self.options.loop and self.source.rewind():
                        self.rec.count("loops")
                        continue
                    self.stop("end of stream")
                    break
                elif not self._reconnect():
                    break
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread after a clean shutdown
            self._fail(exc)
        finally:
            out.close()

    def _pace(self, due: Optional[float]) -> Any:
        """Release frame n at start + n / fps, like a camera; a late frame goes at once and resets the schedule."""
        now = time.perf_counter()
        due = now if due is None else due + 1.0 / self.pace_fps
        if due > now:
            self.stop_event.wait(due - now)
        else:
            due = now
        return due, time.perf_counter()

    def _reconnect(self) -> bool:
        attempts, delay = self.options.reconnect, self.options.reconnect_delay
        text = self.source.spec.text
        for attempt in range(1, attempts + 1):
            self.log(f"source {text} lost; reconnecting ({attempt}/{attempts}) in {delay:.1f} s")
            if self.stop_event.wait(delay):
                return False
            try:
                self.source.reopen()
            except EdgeUnetError:
                delay = min(delay * 2.0, MAX_BACKOFF_S)
                continue
            self.rec.count("reconnects")
            self.log(f"source {text} reconnected")
            return True
        self.lost = True
        self.stop(f"source lost (no frames after {attempts} reconnect attempt(s))")
        return False

    # -- stages -----------------------------------------------------------------------------------
    def _stage_loop(self, name: str, fn: Callable[[_Packet], None], setup: Optional[Callable[[], None]], inbox: Channel,
                    outbox: Channel) -> None:
        try:
            if setup is not None:
                setup()
            while True:
                try:
                    packet = inbox.get()
                except Closed:
                    break
                began = time.perf_counter()
                fn(packet)
                ms = (time.perf_counter() - began) * 1000.0
                packet.timings[name] = ms
                self.rec.add(name, ms)
                if not outbox.put(packet):
                    break
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread after a clean shutdown
            self._fail(exc)
        finally:
            outbox.close()

    def _preprocess(self, p: _Packet) -> None:
        p.tensor = preprocess(p.frame, self.spec)

    def _infer(self, p: _Packet) -> None:
        p.output = self.backend.run(p.tensor)
        p.tensor = None

    def _postprocess(self, p: _Packet) -> None:
        p.mask = postprocess(p.output, self.spec, (p.frame.shape[0], p.frame.shape[1]))
        p.output = None

    def _prepare_overlay(self) -> None:
        if self.options.hud:
            # OpenCV 5 loads putText's font once per thread (about 30 ms): pay it now, while the first frame is inferred.
            draw_hud(np.zeros((32, 64, 3), np.uint8), "0")

    def _overlay(self, p: _Packet) -> None:
        o = self.options
        p.view = render(p.frame, p.mask, o.overlay, self.lut, self.spec.colors, o.alpha)
        if o.hud:
            text = f"{self.rec.rolling_fps():.1f} FPS  infer {p.timings.get('inference', 0.0):.1f} ms  e2e {self.rec.last(END_TO_END):.0f} ms"
            if self.dropping:
                text += f"  drop {self.rec.counters['dropped']}"
            draw_hud(p.view, text)

    # -- sinks ------------------------------------------------------------------------------------
    def _sink_loop(self, inbox: Channel) -> None:
        limit = self.options.max_frames
        try:
            while True:
                try:
                    p = inbox.get()
                except Closed:
                    break
                if limit is not None and self.rec.frames >= limit:
                    continue  # frames in flight after the last one asked for
                began = time.perf_counter()
                self._write(p)
                done = time.perf_counter()
                p.timings["sink"] = (done - began) * 1000.0
                p.timings[END_TO_END] = (done - p.t_capture) * 1000.0
                self.rec.add("sink", p.timings["sink"])
                self.rec.add(END_TO_END, p.timings[END_TO_END])
                self.rec.frame_done(done)
                self._after_frame(p, limit)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread after a clean shutdown
            self._fail(exc)
        finally:
            self.rec.stop()
            if self.results is not None:
                self.results.close()

    def _after_frame(self, p: _Packet, limit: Optional[int]) -> None:
        if self.results is not None:
            result = FrameResult(p.index, p.frame, p.mask, p.view, p.timings, p.t_capture)
            if not self.results.put(result):
                self.stop("stopped by the consumer")
        if limit is not None and self.rec.frames >= limit:
            self.stop("max frames")
        if any(s.stop_requested for s in self.active):
            self.stop("stopped from the window (q)")
        if self.sinks and not self.active:
            self.stop("every output failed")

    def _write(self, p: _Packet) -> None:
        for sink in list(self.active):
            try:
                sink.write(p.view, p.index)
            except Exception as exc:  # noqa: BLE001 - a failing output must not take the others (or the run) down
                self._sink_failed(sink, exc)

    def _sink_failed(self, sink: Sink, exc: BaseException) -> None:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        self.active.remove(sink)
        try:
            sink.close()
            kept = f"the {sink.frames} frame(s) written to {sink.where} are kept"
        except Exception as close_exc:  # noqa: BLE001
            kept = f"closing it failed too ({close_exc})"
        self.failures.append({"output": sink.name, "error": reason, "frames": sink.frames})
        self.log(f"output {sink.name} failed after {sink.frames} frame(s): {reason}; {kept}")


# -- the Python API -----------------------------------------------------------------------------------
class Stream:
    """A model over a source, into sinks. Iterate for results, or `run()` to just write the sinks.

    >>> with Stream("model.onnx", "video.mp4", outputs=["out.mp4"]) as stream:   # doctest: +SKIP
    ...     for result in stream:
    ...         area = (result.mask > 0).mean()                  # class ids, frame size
    ...         print(result.index, f"{area:.1%}", f"{result.timings['end_to_end']:.1f} ms")
    >>> stream.report()["stages"]["inference"]["p99"]              # doctest: +SKIP
    """

    def __init__(
        self,
        model: Union[str, Path, Backend],
        source: Union[str, Path],
        outputs: Sequence[Union[str, Sink]] = (),
        options: Optional[StreamOptions] = None,
        *,
        backend: str = "auto",
        device: str = "auto",
        threads: Optional[int] = None,
        half: bool = False,
        ort_opt_level: str = "all",
        log: Optional[Log] = None,
        **overrides: Any,
    ) -> None:
        self.options = dataclasses.replace(options or StreamOptions(), **overrides).check()
        self.log: Log = log or (lambda _msg: None)
        self.source_spec = parse_source(str(source))
        self._owns_backend = isinstance(model, (str, Path))
        self.model_name = str(model) if self._owns_backend else getattr(model, "name", "backend")
        # ONNX Runtime's spin-waiting threads would take the cores that capture, overlay and encoding need.
        extra: Dict[str, Any] = {"spinning": False, "opt_level": ort_opt_level, **({} if threads is None else {"threads": threads})}
        if half:
            _check_half(model, backend)
            extra["half"] = True
        self.backend: Backend = load_backend(model, backend, device, **extra) if isinstance(model, (str, Path)) else model
        self.source: Any = None
        self.sinks: List[Sink] = []
        self.recorder = LatencyRecorder()
        self._pipeline: Optional[_Pipeline] = None
        self._closed = False
        try:
            self.source = open_source(self.source_spec, fps=self.options.fps)
            for note in getattr(self.source, "notes", []):
                self.log(note)
            self.sinks = open_sinks(list(outputs), self.options.fps or self.source.fps or 30.0)
        except BaseException:
            self.close()
            raise

    def _start(self, results: Optional[Channel]) -> _Pipeline:
        if self._pipeline is not None:
            raise EdgeUnetError("a Stream runs once; make a new Stream to run again")
        warm_up(self.backend, self.options.warmup, getattr(self.source, "size", None), self.options)
        self._pipeline = _Pipeline(self.backend, self.source, self.sinks, self.options, self.recorder, self.log, results)
        self._pipeline.start()
        return self._pipeline

    def run(self, raise_errors: bool = True) -> Dict[str, Any]:
        """Process until the source ends (or max_frames, Ctrl-C, 'q', a lost source); sinks are finalised; returns report()."""
        pipeline = self._start(None)
        pipeline.join()
        self._finish()
        if raise_errors and pipeline.error is not None:
            raise pipeline.error
        return self.report()

    def __iter__(self) -> Iterator[FrameResult]:
        results = Channel("results", self.options.queue_size)
        pipeline = self._start(results)
        try:
            while True:
                try:
                    yield results.get()
                except Closed:
                    break
        finally:
            pipeline.stop("stopped by the consumer")
            results.close(discard=True)
            pipeline.join()
            self._finish()
        if pipeline.error is not None:
            raise pipeline.error

    def stop(self, reason: str = "stopped") -> None:
        """Ask a running stream to finish cleanly (from another thread, a signal handler, a key)."""
        if self._pipeline is not None:
            self._pipeline.stop(reason)

    def _finish(self) -> None:
        """Finalise every sink (videos renamed into place) and release the source."""
        problems = []
        for sink in self._pipeline.active if self._pipeline is not None else self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - one bad output must not keep the others from being finalised
                problems.append(f"output {sink.name} could not be finalised: {exc}")
        for line in problems:
            self.log(line)
        if self._pipeline is None or self._pipeline.capture_done:
            self.source.close()
        self._closed = True

    def close(self) -> None:
        """Release everything; safe to call twice and after run()."""
        pipeline = self._pipeline
        if pipeline is not None and not self._closed:
            pipeline.stop("closed")
            pipeline.join()
            self._finish()
        elif pipeline is None:
            for sink in self.sinks:
                with contextlib.suppress(Exception):
                    sink.close()
            if self.source is not None:
                self.source.close()
        if self._owns_backend and self.backend is not None:
            self.backend.close()
            self._owns_backend = False

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def ended(self) -> Optional[str]:
        return self._pipeline.ended if self._pipeline is not None else None

    def report(self) -> Dict[str, Any]:
        """Everything the summary table shows, JSON-ready (schema edgeunet-stream/1)."""
        p = self._pipeline
        failed = {f["output"]: f for f in (p.failures if p is not None else [])}
        outputs = [{"output": s.name, "kind": s.kind, "where": s.where, "frames": s.frames,
                    "status": "failed" if s.name in failed else "ok", "error": failed.get(s.name, {}).get("error")} for s in self.sinks]
        return {
            "schema": SCHEMA,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "model": self.model_name, "backend": self.backend.name, "precision": self.backend.precision,
            "device": str(self.backend.device), "source": self.source_spec.text, "source_kind": self.source_spec.kind,
            "live": self.source_spec.live, "outputs": outputs, "options": dataclasses.asdict(self.options),
            "ended": self.ended, "source_lost": bool(p is not None and p.lost),
            "error": None if p is None or p.error is None else str(p.error),
            **self.recorder.to_dict(),
            "queues": {c.name: c.stats() for c in p.channels} if p is not None else {},
        }


def _check_half(model: Union[str, Path, Backend], backend: str) -> None:
    """fp16 is a property of the file for ONNX and engines; only a checkpoint can be run in half precision on the fly."""
    if not isinstance(model, (str, Path)) or backend_for(Path(model), backend) != "torch":
        raise EdgeUnetError("--fp16 runs a .pt checkpoint in half precision on CUDA; for ONNX Runtime use an fp16 ONNX "
                            "(edgeunet convert --fp16), for TensorRT an fp16 engine (edgeunet build-engine --fp16)")


def measure_pipeline(backend: Backend, video: Union[str, Path], max_frames: Optional[int] = None, overlay: str = "alpha",
                     outputs: Sequence[str] = ("null",)) -> Dict[str, Any]:
    """End-to-end run of an already-open backend over `video` (read -> ... -> overlay -> outputs); `bench` reads ["fps"]."""
    stream = Stream(backend, str(video), outputs, StreamOptions(overlay=overlay, hud=False, max_frames=max_frames))
    try:
        return stream.run()
    finally:
        stream.close()


# -- the command ---------------------------------------------------------------------------------------
def default_outputs(log: Log) -> List[str]:
    """A window when there is a screen; otherwise nothing is shown (said once), which keeps timing runs simple."""
    problem = display_problem()
    if problem is None:
        return ["display://"]
    log(f"no --output, and no window can be shown here ({problem.split(';')[0]}): frames are processed but not shown; "
        "add --output out.mp4 or mjpeg://0.0.0.0:8090")
    return ["null"]


@contextlib.contextmanager
def stop_controls(stream: Stream, log: Log) -> Iterator[None]:
    """SIGTERM (systemd, docker stop) and 'q' + Enter on a terminal end the run as cleanly as Ctrl-C does."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stream.stop("terminated (SIGTERM)"))
    if sys.stdin is not None and sys.stdin.isatty():
        def watch() -> None:
            for line in sys.stdin:
                if line.strip().lower() in ("q", "quit"):
                    stream.stop("stopped (q)")
                    return

        threading.Thread(target=watch, name="stream-keys", daemon=True).start()
        log("press Ctrl-C, or q and Enter, to stop")
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _check_stats_path(path: Path) -> None:
    if path.is_dir():
        raise EdgeUnetError(f"--stats {path}: is a folder; give a file name such as stats.json")
    ensure_writable_dir(path.parent if str(path.parent) else Path("."), "--stats folder")


def stream_command(model: Path, source: str, outputs: Sequence[str], stats_out: Optional[Path] = None, backend: str = "auto",
                   device: str = "auto", threads: Optional[int] = None, half: bool = False, ort_opt_level: str = "all",
                   echo: Log = print, **options: Any) -> Dict[str, Any]:
    """`edgeunet stream`: run, print the summary table, write --stats, then turn a lost source or a failed output into exit 4."""
    if stats_out is not None:
        _check_stats_path(Path(stats_out))
    note: Log = lambda msg: echo(f"note: {msg}")  # noqa: E731
    opts = StreamOptions(**options).check()
    targets = list(outputs) or default_outputs(note)
    with Stream(model, source, targets, opts, backend=backend, device=device, threads=threads, half=half,
                ort_opt_level=ort_opt_level, log=note) as stream:
        b = stream.backend
        echo(f"{source} -> {', '.join(s.where or s.name for s in stream.sinks)}  ({b.name} {b.precision} on {b.device})")
        with stop_controls(stream, note):
            report = stream.run(raise_errors=False)
    error = stream._pipeline.error if stream._pipeline is not None else None
    if error is not None and not isinstance(error, EdgeUnetError):
        raise error
    stream.recorder.print(title=f"edgeunet stream: {Path(str(model)).name} on {source} ({report['ended']})")
    for out in report["outputs"]:
        if out["kind"] in ("video", "images") and out["frames"]:
            echo(f"wrote {out['where']} ({out['frames']} frames)")
    if stats_out is not None:
        atomic_write_text(stats_out, json.dumps(report, indent=2) + "\n")
        echo(f"wrote {stats_out}")
    _raise_problems(report, error)
    return report


def _raise_problems(report: Dict[str, Any], error: Optional[BaseException]) -> None:
    if error is not None:
        raise error
    failed = [o for o in report["outputs"] if o["status"] == "failed"]
    if failed:
        first = failed[0]
        raise EdgeUnetError(f"output {first['output']} failed after {first['frames']} frame(s): {first['error']}; "
                            "what was written is kept and valid", exit_code=4)
    if report["source_lost"]:
        raise EdgeUnetError(f"source {report['source']}: {report['ended']}; the summary and --stats above cover the frames "
                            "processed before", exit_code=4)
