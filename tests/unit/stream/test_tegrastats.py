"""tegrastats lines recorded on real boards parse; spikes are marked against the GPU clock; no tegrastats -> no-op."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from edgeunet.stream.tegrastats import TegrastatsReader, mark_spikes, parse_line

# JetPack 5 (L4T R35), Orin Nano: GPU clock without brackets. The example line of edgeunet issue 15.
JP5_ORIN = ("RAM 2448/7620MB (lfb 1083x4MB) SWAP 0/3810MB (cached 0MB) CPU [12%@1420,9%@1420,10%@1420,8%@1420,off,off] "
            "EMC_FREQ 0%@1600 GR3D_FREQ 0%@305 CV0@-256C CPU@47.5C SOC2@44.25C SOC0@45.062C CV1@-256C GPU@44.5C tj@47.5C "
            "SOC1@44.593C CV2@-256C VDD_IN 4350mW/4350mW VDD_CPU_GPU_CV 652mW/652mW VDD_SOC 1304mW/1304mW")
# JetPack 5.1.2, Xavier NX, timestamped, clock in brackets: github.com/waggle-sensor/jetson-exporter tegrastats_test.go
# (TestParseTegraStatsXavierNXJetPack512).
JP5_XAVIER_NX = ("07-09-2024 13:31:31 RAM 3168/6851MB (lfb 2x4MB) SWAP 161/3426MB (cached 0MB) "
                 "CPU [23%@1397,17%@1192,16%@1190,13%@1190,23%@1190,10%@1190] EMC_FREQ 2%@204 GR3D_FREQ 0%@[114] VIC_FREQ 115 APE 150 "
                 "AUX@45C CPU@46.5C thermal@45.6C AO@45C GPU@45.5C PMIC@50C VDD_IN 2763mW/2846mW VDD_CPU_GPU_CV 650mW/670mW VDD_SOC 650mW/711mW")
# JetPack 6 (L4T R36), Orin Nano/NX: no EMC, GR3D_FREQ without a clock, lower-case sensors. The example line of issue 15.
JP6_ORIN_NANO = ("11-21-2024 14:12:09 RAM 3520/7620MB (lfb 3x4MB) SWAP 0/3810MB (cached 0MB) CPU [2%@729,1%@729,0%@729,0%@729,0%@729,0%@729] "
                 "GR3D_FREQ 0% cpu@49.718C soc2@48.25C soc0@48.5C gpu@48.593C tj@49.718C soc1@48.406C VDD_IN 4893mW/4893mW "
                 "VDD_CPU_GPU_CV 491mW/491mW VDD_SOC 1459mW/1459mW")
# JetPack 6.2.1 (L4T R36.4.4), AGX Orin 64 GB, two GPCs: github.com/lesomnus/tegra-exporter stats/parse_test.go.
JP6_AGX_ORIN = ("05-09-2026 18:42:06 RAM 18207/62841MB (lfb 466x4MB) SWAP 86/31420MB (cached 0MB) "
                "CPU [14%@2188,5%@2112,8%@2035,14%@2201,46%@1267,47%@1267,2%@1267,10%@1267,4%@1036,5%@1036,6%@1036,10%@1036] "
                "EMC_FREQ 3%@2133 GR3D_FREQ 0%@[0,0] NVENC 79%@166 NVDEC off NVJPG off NVJPG1 off VIC 36%@115 OFA off NVDLA0 off NVDLA1 off "
                "PVA0_FREQ off APE 174 cpu@52.562C soc2@48.437C soc0@49.093C tj@52.562C soc1@49.656C VDD_GPU_SOC 2412mW/2412mW "
                "VDD_CPU_CV 1607mW/1607mW VIN_SYS_5V0 4707mW/4707mW")
# JetPack 4.x, Xavier NX, power without units: github.com/waggle-sensor/jetson-exporter tegrastats_test.go (...JetPack411).
JP4_XAVIER_NX = ("RAM 5246/7771MB (lfb 7x4MB) SWAP 983/20269MB (cached 280MB) CPU [47%@1420,23%@1420,32%@1420,22%@1420,31%@1420,96%@1420] "
                 "EMC_FREQ 2%@1600 GR3D_FREQ 0%@1109 APE 150 MTS fg 1% bg 9% AO@29C GPU@31.5C PMIC@100C AUX@30C CPU@33.5C thermal@31.35C "
                 "VDD_IN 6140/5510 VDD_CPU_GPU_CV 2706/2119 VDD_SOC 1074/1051")


def test_jetpack5_orin() -> None:
    s = parse_line(JP5_ORIN)
    assert s is not None
    assert s["ram_mb"] == [2448, 7620] and "time" not in s
    assert s["cpu_mhz"] == [1420, 1420, 1420, 1420, None, None] and s["cpu_load"][:2] == [12, 9]
    assert s["gpu_load"] == 0 and s["gpu_mhz"] == 305 and s["emc_mhz"] == 1600
    assert s["temps_c"] == {"cpu": 47.5, "soc2": 44.25, "soc0": 45.062, "gpu": 44.5, "tj": 47.5, "soc1": 44.593}  # CV -256C: off
    assert s["power_mw"] == {"VDD_IN": 4350, "VDD_CPU_GPU_CV": 652, "VDD_SOC": 1304}


def test_jetpack5_xavier_nx_bracketed_clock() -> None:
    s = parse_line(JP5_XAVIER_NX)
    assert s is not None and s["time"] == "07-09-2024 13:31:31"
    assert s["gpu_mhz"] == 114 and s["emc_mhz"] == 204 and s["temps_c"]["gpu"] == 45.5
    assert s["power_mw"]["VDD_IN"] == 2763  # the instantaneous value, not the average after the slash


def test_jetpack6_orin_nano_without_gpu_clock() -> None:
    s = parse_line(JP6_ORIN_NANO)
    assert s is not None and s["time"] == "11-21-2024 14:12:09"
    assert s["gpu_load"] == 0 and s["gpu_mhz"] is None and "emc_mhz" not in s
    assert s["cpu_mhz"] == [729] * 6 and s["temps_c"]["tj"] == 49.718 and s["power_mw"]["VDD_SOC"] == 1459


def test_jetpack6_agx_orin_two_gpcs() -> None:
    s = parse_line(JP6_AGX_ORIN)
    assert s is not None and s["gpu_mhz"] == 0 and s["gpu_load"] == 0 and len(s["cpu_mhz"]) == 12
    assert s["power_mw"] == {"VDD_GPU_SOC": 2412, "VDD_CPU_CV": 1607, "VIN_SYS_5V0": 4707}
    assert parse_line(JP6_AGX_ORIN.replace("0%@[0,0]", "97%@[1300,1250]"))["gpu_mhz"] == 1300  # type: ignore[index]


def test_jetpack4_power_without_units() -> None:
    s = parse_line(JP4_XAVIER_NX)
    assert s is not None and s["gpu_mhz"] == 1109 and s["power_mw"] == {"VDD_IN": 6140, "VDD_CPU_GPU_CV": 2706, "VDD_SOC": 1074}


@pytest.mark.parametrize("text", ["", "hello", "CPU [1%@729]"])
def test_not_a_tegrastats_line(text: str) -> None:
    assert parse_line(text) is None


def test_spikes_marked_against_the_gpu_clock() -> None:
    latencies = [(t * 0.1, 10.0) for t in range(100)]  # 10 s at 10 FPS, 10 ms a frame
    latencies[25] = (2.5, 40.0)  # clock at its max: a spike, not a clock drop
    latencies[75] = (7.5, 35.0)  # the clock fell from 1300 to 600 MHz at 7 s
    samples = [(float(t), {"gpu_mhz": 1300 if t < 7 else 600}) for t in range(10)]
    out = mark_spikes(latencies, samples)
    assert out["median_ms"] == 10.0 and out["threshold_ms"] == 20.0 and out["count"] == 2 and out["with_gpu_clock_drop"] == 1
    first, second = out["frames"]
    assert first["gpu_clock_drop"] is False and first["gpu_mhz"] == 1300
    assert second["gpu_clock_drop"] is True and second["gpu_mhz"] == 600 and second["gpu_mhz_recent_max"] == 1300


def test_spikes_without_telemetry_or_latencies() -> None:
    assert mark_spikes([], [])["count"] == 0
    out = mark_spikes([(0.0, 10.0), (0.1, 10.0), (0.2, 50.0)], [])
    assert out["count"] == 1 and out["frames"][0]["gpu_clock_drop"] is False and "gpu_mhz" not in out["frames"][0]


def test_reader_is_a_no_op_without_tegrastats(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    reader = TegrastatsReader().start()
    assert not reader.active
    reader.stop()
    assert reader.report([(0.0, 5.0)], None) == {"available": False, "reason": "no tegrastats here (not a Jetson)"}


def test_reader_samples_a_recorded_tegrastats(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A stand-in `tegrastats` on PATH replays recorded lines: the reader parses them in the background."""
    fake = tmp_path / "tegrastats"
    fake.write_text("#!/bin/sh\n" + "".join(f"echo '{line}'\n" for line in (JP5_ORIN, JP5_ORIN.replace("0%@305", "99%@1020"))) + "sleep 30\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    reader = TegrastatsReader().start()
    started = time.perf_counter()
    try:
        end = time.time() + 10
        while len(reader.samples) < 2 and time.time() < end:
            time.sleep(0.05)
    finally:
        reader.stop()
    report = reader.report([(started, 5.0)], started)
    assert report["available"] and report["samples"] == 2
    assert [s["gpu_mhz"] for s in report["series"]] == [305, 1020] and report["spikes"]["count"] == 0
