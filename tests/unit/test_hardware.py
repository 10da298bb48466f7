"""mnist.hardware: the CPU's bfloat16 support, and what ``auto`` precision becomes."""

from __future__ import annotations

import pytest

from mnist import hardware

AVX2_EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme de pse tsc msr avx avx2 fma sse4_1 sse4_2
bugs\t\t: sysret_ss_attrs

processor\t: 1
flags\t\t: fpu vme de pse tsc msr avx avx2 fma sse4_1 sse4_2
"""
BF16_EPYC = AVX2_EPYC.replace("avx2 fma", "avx2 fma avx512f avx512_bf16")
SAPPHIRE_RAPIDS = AVX2_EPYC.replace("avx2 fma", "avx2 fma avx512f amx_tile amx_bf16")


@pytest.mark.parametrize(
    ("cpuinfo", "native"), [(AVX2_EPYC, False), (BF16_EPYC, True), (SAPPHIRE_RAPIDS, True)]
)
def test_bfloat16_is_native_only_with_avx512_bf16_or_amx(tmp_path, cpuinfo, native):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    flags = hardware.cpu_flags(path)
    assert {"avx", "avx2", "fma"} <= flags
    assert not {"bugs", "sysret_ss_attrs", "AMD"} & flags  # only the flags line's words
    assert bool(flags & hardware.BF16_FLAGS) is native


def test_no_cpuinfo_means_no_flags(tmp_path):
    assert hardware.cpu_flags(tmp_path / "absent") == frozenset()
    (tmp_path / "empty").write_text("processor : 0\n")
    assert hardware.cpu_flags(tmp_path / "empty") == frozenset()


def test_auto_resolves_by_the_cpu_and_the_others_are_themselves():
    assert hardware.resolve_precision("auto", native=True) == "mixed_bfloat16"
    assert hardware.resolve_precision("auto", native=False) == "float32"
    for precision in ("float32", "mixed_bfloat16"):
        assert hardware.resolve_precision(precision, native=True) == precision
        assert hardware.resolve_precision(precision, native=False) == precision


def test_this_machine_is_read_from_its_own_cpuinfo():
    expected = bool(hardware.cpu_flags() & hardware.BF16_FLAGS)
    assert hardware.native_bfloat16() is expected
    assert ("natively" in hardware.describe_precision_support()) is expected
