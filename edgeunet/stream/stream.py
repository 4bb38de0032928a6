"""`Stream`: the Python API of `edgeunet stream` (a model over a source, into sinks).

It owns the model, the source and the sinks, and hands them to the threaded pipeline
(edgeunet.stream.pipeline) for one run; `report()` is what --stats writes. No torch import here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from edgeunet.core.errors import EdgeUnetError
from edgeunet.runtime.base import Backend, BackendOptions, backend_for, load_backend
from edgeunet.stream.options import Log, StreamOptions, live_threads, reserve_stage_core
from edgeunet.stream.pipeline import Channel, Closed, FrameResult, Pipeline, warm_up
from edgeunet.stream.sinks import Sink, StreamInfo, open_sinks
from edgeunet.stream.sources import open_source, parse_source
from edgeunet.stream.stats import CAPTURE_TO_DISPLAY, END_TO_END, LatencyRecorder
from edgeunet.stream.tegrastats import TegrastatsReader

SCHEMA = "edgeunet-stream/1"
__all__ = ["SCHEMA", "FrameResult", "Stream", "StreamOptions"]


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
        web: Any = None,
        **overrides: Any,
    ) -> None:
        self.options = dataclasses.replace(options or StreamOptions(), **overrides).check()
        self.log: Log = log or (lambda _msg: None)
        self.source_spec = parse_source(str(source))
        self._owns_backend = isinstance(model, (str, Path))
        self.model_name = str(model) if self._owns_backend else getattr(model, "name", "backend")
        # ONNX Runtime's spin-waiting threads would take the cores that capture, overlay and encoding need.
        if threads is None and self._owns_backend and (self.source_spec.live or self.options.realtime):
            threads = live_threads()
            kept = "one core kept for decode/overlay/encode" if reserve_stage_core() else "decode/overlay/encode at a lower priority"
            self.log(f"live pacing: {threads} inference thread(s), {kept} (--threads, --pin-stages to choose)")
        if half:
            _check_half(model, backend)
        opened = BackendOptions(device=device, threads=threads, opt_level=ort_opt_level, spinning=False, half=half)
        self.backend: Backend = load_backend(model, backend, **opened.kwargs()) if isinstance(model, (str, Path)) else model
        self.source: Any = None
        self.sinks: List[Sink] = []
        self.recorder = LatencyRecorder()
        self.telemetry = TegrastatsReader()  # Jetson clocks/temperatures/power beside the latencies; a no-op elsewhere
        self._pipeline: Optional[Pipeline] = None
        self._closed = False
        try:
            self.source = open_source(self.source_spec, fps=self.options.fps)
            for note in getattr(self.source, "notes", []):
                self.log(note)
            if web is not None and web.log is None:
                web.log = self.log
            self.sinks = open_sinks(list(outputs), self.options.fps or self.source.fps or 30.0, web)
            info = StreamInfo(Path(self.model_name).name, self.source_spec.text, list(self.backend.spec.class_names),
                              [list(c) for c in self.backend.spec.colors], self.live_stats, self.recorder)
            for sink in self.sinks:
                sink.attach(info)
        except BaseException:
            self.close()
            raise

    def _start(self, results: Optional[Channel]) -> Pipeline:
        if self._pipeline is not None:
            raise EdgeUnetError("a Stream runs once; make a new Stream to run again")
        warm_up(self.backend, self.options.warmup, getattr(self.source, "size", None), self.options)
        self._pipeline = Pipeline(self.backend, self.source, self.sinks, self.options, self.recorder, self.log, results)
        self.telemetry.start()
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
        self.telemetry.stop()
        problems = []
        for sink in self._pipeline.active if self._pipeline is not None else self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - one bad output must not keep the others from being finalised
                problems.append(f"output {sink.name} could not be finalised: {exc}")
                if self._pipeline is not None:  # the report (and the exit code) must not call it written
                    self._pipeline.failures.append({"output": sink.name, "error": " ".join(str(exc).split()), "frames": sink.frames})
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

    @property
    def error(self) -> Optional[BaseException]:
        """The exception that ended the run early (a stage or the source failed), or None; run(raise_errors=False) keeps it here."""
        return self._pipeline.error if self._pipeline is not None else None

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
            "capture_to_display": self._display_latency(),
            "flicker": p.stability.to_dict() if p is not None else {},
            "queues": {c.name: c.stats() for c in p.channels} if p is not None else {},
            "telemetry": self._telemetry(),
            "codecs": self.codecs(),
        }

    def codecs(self) -> Dict[str, Any]:
        """How frames were decoded and encoded (NVDEC/NVENC through GStreamer, or OpenCV/FFmpeg and why): header and --stats."""
        return {"decode": getattr(self.source, "codec", ""), "encode": {s.name: s.codec for s in self.sinks if getattr(s, "codec", "")}}

    def _telemetry(self) -> Dict[str, Any]:
        """Jetson: tegrastats samples and the latency spikes (of the last 8192 frames) that coincide with a GPU clock drop."""
        if self.telemetry.idle:  # not a Jetson: skip copying the latency series on every stats call
            return self.telemetry.report((), self.recorder.started)
        shown = self.recorder.samples.get(CAPTURE_TO_DISPLAY)
        stage = CAPTURE_TO_DISPLAY if shown is not None and shown.count else END_TO_END
        report = self.telemetry.report(self.recorder.recent(stage, float("inf")), self.recorder.started)
        return {**report, "latency": stage} if report.get("available") else report

    def _display_latency(self) -> Dict[str, Any]:
        """Live or --realtime: the frame's capture time to the moment the sinks had it, with p99/p50 (how steady it is)."""
        samples = self.recorder.samples.get(CAPTURE_TO_DISPLAY)
        if samples is None or not samples.count:
            return {}
        s = samples.summary()
        return {**{k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()},
                "p99_over_p50": round(s["p99"] / s["p50"], 3) if s["p50"] > 0 else None}

    def live_stats(self) -> Dict[str, Any]:
        """The running numbers a live view shows (cheap enough for once a second): counters, FPS, percentiles, flicker."""
        rec, p = self.recorder, self._pipeline
        stages = {name: {k: round(v, 3) for k, v in s.items() if k in ("count", "p50", "p95", "p99")}
                  for name, s in rec.summary().items()}
        return {**{k: int(v) for k, v in rec.counters.items()}, "fps": round(rec.fps, 3), "rolling_fps": round(rec.rolling_fps(), 3),
                "stages": stages, "capture_to_display": self._display_latency(),
                "flicker_last_second": None if p is None else p.stability.last_second(),
                "ended": self.ended}


def _check_half(model: Union[str, Path, Backend], backend: str) -> None:
    """fp16 is a property of the file for ONNX and engines; only a checkpoint can be run in half precision on the fly."""
    if not isinstance(model, (str, Path)) or backend_for(Path(model), backend) != "torch":
        raise EdgeUnetError("--fp16 runs a .pt checkpoint in half precision on CUDA; for ONNX Runtime use an fp16 ONNX "
                            "(edgeunet convert --fp16), for TensorRT an fp16 engine (edgeunet build-engine --fp16)")

