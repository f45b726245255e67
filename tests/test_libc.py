"""The built-in C library (vm/libc.py) against glibc, natively.

Random printf conversions and scanf inputs run in a gcc-linked program and in
the VM; the printed text must be identical. The learner programs in
tests/programs/libc_*.asm cover whole programs; these tests cover the
formatting corners (flags, widths, precisions, lengths, NaN/inf, NULL).
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
from pathlib import Path

import pytest
from native import GCC, hexdiff, require_native

from vm import Fault, Machine, assemble, cformat

INTS = [0, 1, -1, 7, 42, -42, 255, 256, 65535, -32768, 2**31 - 1, -(2**31), 2**32 - 1]
INTS += [2**63 - 1, -(2**63), 123456789012, -987654321]
FLOATS = [0.0, -0.0, 1.0, -1.5, 0.5, 2.5, 3.14159265358979, 1e-5, 1.23456789e-300, 5e-324]
FLOATS += [1e15, 1e16, 1.5e300, 123456.789, -0.000123, float("inf"), float("-inf"), float("nan")]
FLOATS += [struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0], 999.9995, 0.1 + 0.2]
STRINGS = [b"", b"a", b"hello", b"hello, world"]


def _spec(rng: random.Random) -> tuple[str, str]:
    """(conversion spec, argument kind: i f s c p)."""
    conv = rng.choice("diuxXoicsfFeEgGp")
    flags = "".join(f for f in "-+ 0#" if rng.random() < 0.2)
    width = rng.choice(["", "", str(rng.randint(1, 25)), "*"])
    prec = rng.choice(["", "", "", "." + str(rng.randint(0, 12)), ".", ".*"])
    length = ""
    if conv in "diuxXo":
        length = rng.choice(["", "", "hh", "h", "l", "ll", "z"])
    elif conv in "fFeEgG":
        length = rng.choice(["", "l"])
    if conv in "cp":
        prec = ""
    kind = {"c": "c", "s": "s", "p": "p"}.get(conv, "f" if conv in "fFeEgG" else "i")
    return f"%{flags}{width}{prec}{length}{conv}", kind


def printf_program(cases) -> str:
    data = ["section .data"]
    text = ["section .text", "main:", "    push rbx"]
    for k, (spec, kind, star, value) in enumerate(cases):
        fmt = f"<{spec}>".encode() + b"\n\0"
        data.append(f"f{k}: db {', '.join(str(b) for b in fmt)}")
        regs = iter(["rsi", "rdx", "rcx", "r8"])
        text.append(f"    lea rdi, [rel f{k}]")
        for s in star:
            text.append(f"    mov {next(regs)}, {s}")
        if kind == "f":
            data.append(f"v{k}: dq {struct.unpack('<Q', struct.pack('<d', value))[0]:#x}")
            text += [f"    movsd xmm0, [rel v{k}]", "    mov eax, 1"]
        elif kind == "s":
            reg = next(regs)
            if value is None:
                text.append(f"    xor {reg}, {reg}")
            else:
                data.append(f"s{k}: db {', '.join(str(b) for b in value + bytes(1))}")
                text.append(f"    lea {reg}, [rel s{k}]")
            text.append("    xor eax, eax")
        else:
            text += [f"    mov {next(regs)}, {value}", "    xor eax, eax"]
        text.append("    call printf")
    text += ["    pop rbx", "    xor eax, eax", "    ret"]
    return "global main\nextern printf\n" + "\n".join(data + text) + "\n"


def _cases(seed: int, n: int):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        spec, kind = _spec(rng)
        star = [str(rng.randint(-12, 20)) for _ in range(spec.count("*"))]
        if kind == "f":
            value = rng.choice(FLOATS)
        elif kind == "s":
            value = rng.choice(STRINGS + [None]) if not star else rng.choice(STRINGS)
        elif kind == "c":
            value = rng.choice([65, 97, 48, 32, 0x141])
        elif kind == "p":
            value = rng.choice([0, 0x1000, 0x7FFFFFFF1234])
        else:
            value = rng.choice(INTS)
        out.append((spec, kind, star, value))
    return out


def _gcc_build(src: str, tmp_path: Path) -> Path:
    require_native()
    if GCC is None:
        pytest.skip("gcc not installed: apt-get install gcc (libc programs link with gcc)")
    (tmp_path / "p.asm").write_text(src)
    subprocess.run(
        ["nasm", "-felf64", "-o", str(tmp_path / "p.o"), str(tmp_path / "p.asm")], check=True
    )
    exe = tmp_path / "p"
    subprocess.run(
        [GCC, "-no-pie", "-o", str(exe), str(tmp_path / "p.o")], check=True, capture_output=True
    )
    return exe


def _vm(src: str, stdin: bytes = b"") -> tuple[bytes, int | None]:
    out = io.BytesIO()
    m = Machine(
        assemble([("p.asm", src)]), stdout=out, stderr=io.BytesIO(), stdin=io.BytesIO(stdin)
    )
    status = m.run(max_steps=10**7)
    return out.getvalue(), status


@pytest.mark.native
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_printf_conversions_match_glibc(tmp_path, seed):
    cases = _cases(seed, 150)
    src = printf_program(cases)
    exe = _gcc_build(src, tmp_path)
    native = subprocess.run([str(exe)], capture_output=True, timeout=60)
    vm_out, status = _vm(src)
    n_lines, v_lines = native.stdout.split(b"\n"), vm_out.split(b"\n")
    bad = [
        f"{c[0]!r} {c[2]} {c[3]!r}: native {a!r} vm {b!r}"
        for c, a, b in zip(cases, n_lines, v_lines)
        if a != b
    ]
    assert not bad, "\n".join(bad[:10])
    assert (vm_out, status) == (native.stdout, native.returncode), hexdiff(native.stdout, vm_out)


# ---- scanf --------------------------------------------------------------------------
# (format, destination kinds): i = 8-byte integer slot, d = double, f = float,
# s = string buffer; one continuous stdin, each call printing what it stored.
SCANS = [
    ("%d", "i"),
    ("%d", "i"),
    ("%x", "i"),
    ("%s", "s"),
    (" %c", "s"),
    ("%lf", "d"),
    ("%f", "f"),
    ("%5s", "s"),
    ("%s", "s"),
    (" %[a-z]", "s"),
    ("%*d %d", "i"),
    ("%i", "i"),
    ("%i", "i"),
    ("%u", "i"),
    ("%hhd", "i"),
    ("%ld", "i"),
    ("%d", "i"),
    ("%s", "s"),
    ("%d,%d", "ii"),
    ("%lf", "d"),
    ("%lf", "d"),
    ("%c", "s"),
    ("%s", "s"),
    ("%3d", "i"),
    ("%d", "i"),
    ("%n", "i"),
    ("%d", "i"),
    ("%s", "s"),
    ("%d", "i"),
]
SCAN_INPUT = (
    b"  42 -17 ff hello   X 3.25 -1e3 abcdefgh xyz 1 2 0x1f 017 4294967295 300 "
    b"-9000000000 abc 5,6 inf 0x1.8p1 Q12345 7788 tail\n"
)


def scanf_program() -> str:
    lines = ["global main", "extern scanf, printf", "section .data"]
    text = ["section .text", "main:", "    push rbx"]
    for k, (fmt, kinds) in enumerate(SCANS):
        lines.append(f"sf{k}: db {', '.join(str(b) for b in fmt.encode() + bytes(1))}")
        text += [
            "    mov qword [rel iv], 0",
            "    mov qword [rel iv2], 0",
            "    mov qword [rel dv], 0",
            "    mov qword [rel sv], 0",
            "    mov qword [rel sv+8], 0",
            f"    lea rdi, [rel sf{k}]",
        ]
        regs = iter(["rsi", "rdx"])
        dest = {"i": "iv", "d": "dv", "f": "dv", "s": "sv"}
        ints = iter(["iv", "iv2"])
        for kind in kinds:
            text.append(f"    lea {next(regs)}, [rel {next(ints) if kind == 'i' else dest[kind]}]")
        text += [
            "    xor eax, eax",
            "    call scanf",
            "    lea rdi, [rel report]",
            "    mov esi, eax",
            "    mov rdx, [rel iv]",
            "    mov rcx, [rel iv2]",
            "    lea r8, [rel sv]",
            "    movsd xmm0, [rel dv]",
            "    cvtss2sd xmm1, [rel dv]",
            "    mov eax, 2",
            "    call printf",
        ]
    lines += [
        'report: db "r=%d i=%ld,%ld s=[%s] d=%g f=%g", 10, 0',
        "section .bss",
        "iv: resq 1",
        "iv2: resq 1",
        "dv: resq 1",
        "sv: resb 64",
    ]
    text += ["    pop rbx", "    xor eax, eax", "    ret"]
    return "\n".join(lines + text) + "\n"


@pytest.mark.native
def test_scanf_conversions_match_glibc(tmp_path):
    src = scanf_program()
    exe = _gcc_build(src, tmp_path)
    native = subprocess.run([str(exe)], input=SCAN_INPUT, capture_output=True, timeout=60)
    vm_out, status = _vm(src, SCAN_INPUT)
    n_lines, v_lines = native.stdout.split(b"\n"), vm_out.split(b"\n")
    bad = [f"{c[0]!r}: native {a!r} vm {b!r}" for c, a, b in zip(SCANS, n_lines, v_lines) if a != b]
    assert not bad, "\n".join(bad[:10])
    assert (vm_out, status) == (native.stdout, native.returncode)
    assert b"r=-1" in vm_out  # end of input reached: EOF before the first conversion


# ---- faults where glibc crashes natively ------------------------------------------------

MAIN = "global main\nextern printf, malloc, free\nsection .data\nfmt db '%f %n', 10, 0\nsection .text\nmain:\n"


def _fault(body: str) -> Fault:
    with pytest.raises(Fault) as info:
        _vm(MAIN + body)
    return info.value


def test_double_free_is_an_abort_fault():
    f = _fault(
        "    push rbx\n    mov edi, 16\n    call malloc\n    mov rbx, rax\n"
        "    mov rdi, rbx\n    call free\n    mov rdi, rbx\n    call free\n    pop rbx\n    ret"
    )
    assert f.kind == "abort" and "free(): invalid pointer" in str(f)


def test_variadic_call_with_misaligned_stack_and_vector_args_faults():
    # main is entered with rsp = 8 mod 16: calling without adjusting misaligns printf
    f = _fault("    lea rdi, [rel fmt]\n    mov eax, 1\n    call printf\n    ret")
    assert f.kind == "misaligned"
    assert f.loc is not None and f.loc.line == 9  # the call, not the built-in routine


def test_printf_percent_n_is_refused_clearly():
    f = _fault("    sub rsp, 8\n    lea rdi, [rel fmt]\n    mov eax, 1\n    call printf\n    ret")
    assert f.kind == "unsupported" and "%n" in str(f)


def test_malloc_pointers_are_16_byte_aligned_and_disjoint():
    src = (
        "global main\nextern malloc\nsection .bss\nptrs resq 8\nsection .text\nmain:\n"
        "    push rbx\n    xor ebx, ebx\n.l: lea edi, [rbx*8+1]\n    call malloc\n"
        "    lea rcx, [rel ptrs]\n    mov [rcx+rbx*8], rax\n    inc ebx\n    cmp ebx, 8\n"
        "    jl .l\n    pop rbx\n    xor eax, eax\n    ret\n"
    )
    m = Machine(assemble([("p.asm", src)]), stdout=io.BytesIO(), stderr=io.BytesIO())
    assert m.run(max_steps=10**6) == 0
    base = m.symbol("ptrs")
    ptrs = struct.unpack("<8Q", m.mem.read(base, 64))
    assert all(p % 16 == 0 for p in ptrs)
    spans = sorted((p, p + 8 * k + 1) for k, p in enumerate(ptrs))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_python_fallback_formatter_agrees_on_common_formats(monkeypatch):
    """Without a loadable C library the formats render through Python's %."""
    import ctypes

    specs = [
        (b"%lld", ctypes.c_longlong(42)),
        (b"%-5lld|", ctypes.c_longlong(-7)),
        (b"%05.1f", ctypes.c_double(3.14159)),
        (b"%llx", ctypes.c_ulonglong(255)),
        (b"%s", ctypes.c_char_p(b"hi")),
        (b"%p", ctypes.c_void_p(None)),
    ]
    with_libc = [cformat._render(s, v) for s, v in specs]
    monkeypatch.setattr(cformat, "_SNPRINTF", None)
    assert [cformat._render(s, v) for s, v in specs] == with_libc
