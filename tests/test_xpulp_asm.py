"""firmware/targets/pmsis/xpulp_asm.py: the PMSIS runtime's Xpulp assembly lines re-encoded with
.insn for Debian's assembler. Each rewritten line, assembled, must give the instruction word that
GVSoC's instruction set description (isa_pulpv2.py) defines for the original mnemonic, computed
here field by field; a mnemonic without a rule is refused; with the SDK present, its two files
rewrite without an error."""
import importlib.util
import os
import shutil
import struct
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build_module(path: str):
    """A module of the firmware's build (not a package), loaded from its file."""
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


xpulp_asm = _build_module(os.path.join(ROOT, "firmware", "targets", "pmsis", "xpulp_asm.py"))

GCC = "riscv64-unknown-elf-gcc"
X = {"x0": 0, "t0": 5, "x10": 10, "x11": 11, "x12": 12, "s2": 18, "t5": 30}


def r_type(funct7, rs2, rs1, funct3, rd, opcode):
    return funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode


SOURCE = """    .option norvc
    p.lw x12, t0(x11)
    p.sw    x12, t0(x11)
    p.bsetr x12, x12, x10
    p.elw   t0, 28(s2)      // a comment stays
    p.beqimm t5, 0, 1f
    nop
1:
"""
WORDS = [
    r_type(0b0010000, X["t0"], X["x11"], 0b111, X["x12"], 0b0000011),     # p.lw rd, rs2(rs1)
    r_type(0b0000000, X["x12"], X["x11"], 0b110, X["t0"], 0b0100011),     # p.sw rs2, rs3(rs1): rs3 in rd's field
    r_type(0b1000000, X["x10"], X["x12"], 0b100, X["x12"], 0b0110011),    # p.bsetr rd, rs1, rs2
    28 << 20 | X["s2"] << 15 | 0b110 << 12 | X["t0"] << 7 | 0b0000011,    # p.elw rd, imm(rs1)
    (8 >> 1 & 0xF) << 8 | X["t5"] << 15 | 0b010 << 12 | 0b1100011,         # p.beqimm rs1, 0 (rs2 field), +8
    0x00000013,                                                            # nop
]


@pytest.mark.skipif(shutil.which(GCC) is None, reason=f"{GCC} not installed (bash scripts/setup.sh installs it)")
def test_rewritten_lines_assemble_to_the_xpulp_encodings(tmp_path):
    text = xpulp_asm.rewrite(SOURCE, "test.S")
    assert "p." not in text.replace(".option", "") and "// a comment stays" in text
    src, obj, binary = tmp_path / "t.S", tmp_path / "t.o", tmp_path / "t.bin"
    src.write_text(text)
    subprocess.run([GCC, "-march=rv32imc", "-misa-spec=2.2", "-mabi=ilp32", "-c", str(src), "-o", str(obj)],
                   check=True)
    subprocess.run([GCC.replace("-gcc", "-objcopy"), "-O", "binary", "-j", ".text", str(obj), str(binary)], check=True)
    words = list(struct.unpack(f"<{len(WORDS)}I", binary.read_bytes()))
    assert [hex(w) for w in words] == [hex(w) for w in WORDS]


def test_unknown_xpulp_mnemonic_is_refused():
    with pytest.raises(xpulp_asm.XpulpAsmError, match=r"x.S:2: no .insn form for 'p.extractu"):
        xpulp_asm.rewrite("    li a0, 1\n    p.extractu x10, x8, 4, 2\n", "x.S")
    assert xpulp_asm.rewrite("    lw a0, 0(a1)\n", "y.S") == "    lw a0, 0(a1)\n"


def test_the_sdk_files_rewrite():
    from rnnse.stream import pmsis

    if pmsis.sdk_unavailable():
        pytest.skip(pmsis.sdk_unavailable())
    for rel in ("rtos/pulpos/common/kernel/soc_event_v2_itc.S", "rtos/pulpos/pulp/drivers/cluster/pe-eu-v3.S"):
        with open(os.path.join(pmsis.sdk_home(), rel)) as f:
            text = xpulp_asm.rewrite(f.read(), rel)
        assert ".insn" in text
