"""The Xpulp mnemonics of the PMSIS runtime's assembly files, re-encoded for Debian's assembler.

PULP's GCC assembles ``p.lw``, ``p.sw``, ``p.bsetr``, ``p.elw`` and ``p.beqimm``; Debian's
binutils knows none of them. ``rewrite`` turns each such line into the ``.insn`` directive that
encodes the same instruction (encodings from GVSoC's instruction set description,
core/models/cpu/iss/isa_gen/isa_pulpv2.py), so the runtime's own assembly files are used
unchanged otherwise; the build writes the rewritten copy into the build directory, never into
the SDK checkout. A line with another ``p.``/``pv.``/``lp.`` mnemonic is an error, so nothing is
assembled wrongly unseen.

    p.lw   rd, rs2(rs1)      register-offset load      0010000 rs2 rs1 111 rd 0000011
    p.sw   rs2, rs3(rs1)     register-offset store     0000000 rs2 rs1 110 rs3 0100011
    p.bsetr rd, rs1, rs2     rd = rs1 | 1 << rs2[4:0]  1000000 rs2 rs1 100 rd 0110011
    p.elw  rd, imm(rs1)      event-unit load (sleeps)  imm[11:0] rs1 110 rd 0000011
    p.beqimm rs1, imm5, L    branch if rs1 == imm5     B-type, funct3 010, imm5 in the rs2 field
"""
import re

REG = r"[a-z][a-z0-9]*"
RULES = [
    (re.compile(rf"^(\s*)p\.lw\s+({REG})\s*,\s*({REG})\s*\(\s*({REG})\s*\)\s*$"),
     lambda m: f"{m[1]}.insn r 0x03, 7, 0x10, {m[2]}, {m[4]}, {m[3]}"),
    (re.compile(rf"^(\s*)p\.sw\s+({REG})\s*,\s*({REG})\s*\(\s*({REG})\s*\)\s*$"),
     lambda m: f"{m[1]}.insn r 0x23, 6, 0x00, {m[3]}, {m[4]}, {m[2]}"),
    (re.compile(rf"^(\s*)p\.bsetr\s+({REG})\s*,\s*({REG})\s*,\s*({REG})\s*$"),
     lambda m: f"{m[1]}.insn r 0x33, 4, 0x40, {m[2]}, {m[3]}, {m[4]}"),
    (re.compile(rf"^(\s*)p\.elw\s+({REG})\s*,\s*(.+)\(\s*({REG})\s*\)\s*$"),
     lambda m: f"{m[1]}.insn i 0x03, 6, {m[2]}, {m[3].strip()}({m[4]})"),
    (re.compile(rf"^(\s*)p\.beqimm\s+({REG})\s*,\s*(-?\d+)\s*,\s*(\S+)\s*$"),
     lambda m: f"{m[1]}.insn b 0x63, 2, {m[2]}, x{int(m[3]) & 31}, {m[4]}"),
]
XPULP = re.compile(r"^\s*(p|pv|lp)\.[a-z]")


class XpulpAsmError(ValueError):
    pass


def rewrite(text: str, name: str = "<asm>") -> str:
    """The assembly source with every supported Xpulp line re-encoded; XpulpAsmError otherwise."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        code, sep, comment = line.partition("//")
        for pattern, make in RULES:
            m = pattern.match(code)
            if m:
                line = make(m) + (f" {sep}{comment}" if sep else "")
                break
        else:
            if XPULP.match(code):
                raise XpulpAsmError(f"{name}:{n}: no .insn form for {code.strip()!r}")
        out.append(line)
    return "\n".join(out) + "\n"
