"""The CPU model and ISA that every bench result names (INT8 speed on a CPU differs ~2x between machine kinds)."""

from __future__ import annotations

from edgeunet.bench.timing import cpu_from_cpuinfo, machine_info

EPYC_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 avx avx2 fma bmi2
"""
XEON_AMX = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: avx avx2 avx512f avx512bw avx512_vnni avx_vnni amx_bf16 amx_tile amx_int8
"""
ORIN = """processor\t: 0
BogoMIPS\t: 62.50
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
"""


def test_avx2_epyc_has_no_vnni() -> None:
    assert cpu_from_cpuinfo(EPYC_AVX2) == {"cpu_model": "AMD EPYC 7B12", "isa": ["AVX2"]}


def test_xeon_with_vnni_and_amx() -> None:
    found = cpu_from_cpuinfo(XEON_AMX)
    assert found["cpu_model"].startswith("Intel(R) Xeon(R) Platinum")
    assert found["isa"] == ["AVX2", "AVX-512", "AVX512-VNNI", "AVX-VNNI", "AMX", "AMX-INT8", "AMX-BF16"]


def test_orin_arm_cores_report_neon_dotprod() -> None:
    assert cpu_from_cpuinfo(ORIN)["isa"] == ["NEON", "NEON-dotprod"]


def test_machine_info_names_this_cpu() -> None:
    info = machine_info()
    assert info["cpu_model"] and isinstance(info["isa"], list)
