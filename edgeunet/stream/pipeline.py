"""The threaded stage pipeline of `edgeunet stream` and the channels between its stages.

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

The Python API (`Stream`) is in edgeunet.stream.stream, the command in edgeunet.stream.command and
bench's `measure_pipeline` in edgeunet.stream.measure (re-exported here, where bench imports it).
No torch import here: a .onnx or .engine model streams without it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.overlay import colour_lut
from edgeunet.core.processing import postprocess, preprocess
from edgeunet.runtime.base import Backend
from edgeunet.stream.channel import Channel, Closed
from edgeunet.stream.drawing import draw_hud, graph_draws_overlay, render
from edgeunet.stream.options import LIVE_STAGE_NICE, Log, StreamOptions, lower_thread_priority, pin_thread, reserve_stage_core, stage_cores
from edgeunet.stream.sinks import Sink
from edgeunet.stream.source_base import CORRUPT, END, OK, Source
from edgeunet.stream.stability import MaskStability
from edgeunet.stream.stats import CAPTURE_TO_DISPLAY, END_TO_END, LatencyRecorder

MAX_BACKOFF_S = 8.0
CAPTURE_GRACE_S = 2.0  # after a stop, how long a capture stuck in a blocking read may hold the pipeline


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
    t_source: float  # when a camera would have taken it: the grab for a live source, the pacing slot for --realtime
    timings: Dict[str, float] = field(default_factory=dict)
    tensor: Any = None
    output: Any = None
    mask: Any = None
    view: Any = None


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
        mask = postprocess(output, spec, (frame.shape[0], frame.shape[1]), options.upsample)
        render(frame, mask, options.overlay, colour_lut(spec.colors), spec.colors, options.alpha)


# -- the pipeline ------------------------------------------------------------------------------------
class Pipeline:
    """Threads and channels of one run; `Stream` owns the model, source and sinks and hands them in."""

    def __init__(self, backend: Backend, source: Source, sinks: List[Sink], options: StreamOptions, recorder: LatencyRecorder,
                 log: Log, results: Optional[Channel] = None) -> None:
        self.backend, self.source, self.sinks, self.options, self.rec, self.log = backend, source, sinks, options, recorder, log
        self.spec = backend.spec
        self.lut = colour_lut(self.spec.colors)
        self.graph_overlay = graph_draws_overlay(self.spec, options.overlay, options.alpha)
        self.dropping = bool(source.live or options.realtime)
        self.stage_nice = options.stage_nice if options.stage_nice is not None else (LIVE_STAGE_NICE if self.dropping else 0)
        pin = options.pin_stages if options.pin_stages is not None else (self.dropping and reserve_stage_core())
        self.cores = stage_cores() if pin else None  # (inference, the rest), or None: nothing pinned
        self.paced = bool(options.realtime and not source.live)
        self.pace_fps = float(options.fps or source.fps or 30.0)
        self.results = results
        self.stability = MaskStability()
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
    def _to_stage_core(self) -> None:
        """Every thread but inference: nicer, and (when pinning) on the last core, off inference's cores."""
        lower_thread_priority(self.stage_nice)
        pin_thread(self.cores[1] if self.cores else None)

    def _capture_loop(self) -> None:
        self._to_stage_core()
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
                    taken = arrived
                    if self.paced:
                        due, arrived = self._pace(due)
                        taken = due
                        if self.stop_event.is_set():
                            break
                    if not out.put(_Packet(index, frame, arrived, taken, {"capture": ms})):
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
            if name != "inference":
                self._to_stage_core()
            else:
                pin_thread(self.cores[0] if self.cores else None)
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
        if self.graph_overlay:
            p.output, p.view = self.backend.run_with_overlay(p.tensor)
        else:
            p.output = self.backend.run(p.tensor)
        p.tensor = None

    def _postprocess(self, p: _Packet) -> None:
        p.mask = postprocess(p.output, self.spec, (p.frame.shape[0], p.frame.shape[1]), self.options.upsample)
        p.output = None
        self.stability.add(p.mask)

    def _prepare_overlay(self) -> None:
        if self.options.hud:
            # OpenCV 5 loads putText's font once per thread (about 30 ms): pay it now, while the first frame is inferred.
            draw_hud(np.zeros((32, 64, 3), np.uint8), "0")

    def _overlay(self, p: _Packet) -> None:
        o = self.options
        if p.view is None or p.view.shape[:2] != p.frame.shape[:2]:  # no overlay from the graph, or a frame resized for it
            p.view = render(p.frame, p.mask, o.overlay, self.lut, self.spec.colors, o.alpha)
        if o.hud:
            text = f"{self.rec.rolling_fps():.1f} FPS  infer {p.timings.get('inference', 0.0):.1f} ms  e2e {self.rec.last(END_TO_END):.0f} ms"
            if self.dropping:
                text += f"  drop {self.rec.counters['dropped']}"
            draw_hud(p.view, text)

    # -- sinks ------------------------------------------------------------------------------------
    def _sink_loop(self, inbox: Channel) -> None:
        self._to_stage_core()
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
                if self.dropping:  # what a camera user sees; a file's throughput run has no capture clock to speak of
                    p.timings[CAPTURE_TO_DISPLAY] = (done - p.t_source) * 1000.0
                    self.rec.add(CAPTURE_TO_DISPLAY, p.timings[CAPTURE_TO_DISPLAY])
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
                sink.write_result(p.view, p.index, p.frame, p.mask)
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
