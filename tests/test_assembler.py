"""The assembler: NASM syntax in, linked image out; every error names file:line:column.

Data directives are compared with nasm's own output byte for byte (the
.data section of `nasm -felf64`, extracted with objcopy); instruction
operands are checked by re-assembling what the disassembler prints.
"""

from __future__ import annotations

import contextlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vm import AsmError, assemble
from vm.asm import AsmInternalError, limits, listing
from vm.isa.operands import Imm, Mem

REPO = Path(__file__).resolve().parents[1]


def asm(text: str, name: str = "t.asm", **kw):
    return assemble([(name, text)], **kw)


def error_of(text: str, name: str = "t.asm", **kw) -> AsmError:
    with pytest.raises(AsmError) as info:
        asm(text, name, **kw)
    assert not isinstance(info.value, AsmInternalError), str(info.value)
    return info.value


def prog(body: str, data: str = "") -> str:
    return f"global _start\nsection .data\n{data}\nsection .text\n_start:\n{body}\n"


# ---------------------------------------------------------------------------
# error messages: one test per kind, each checks the position and the caret


def assert_points_at(e: AsmError, line: int, column: int, fragment: str) -> None:
    text = str(e)
    head = text.splitlines()[0]
    assert head.startswith(f"t.asm:{line}:{column}: error: "), text
    assert fragment in head, text
    src, caret = text.splitlines()[1:3]
    assert caret.strip() == "^"
    assert len(caret) - 4 == column, text  # caret under the column (4-space indent)
    assert src.strip(), text


ERRORS = [
    # (source, line, column, fragment of the first line of the message)
    pytest.param(
        "global _start\n_start:\n    mvo rax, 1\n",
        3,
        5,
        "unknown instruction 'mvo' (did you mean",
        id="unknown-instruction-suggests",
    ),
    pytest.param(
        "global _start\n_start:\n    nop\nloop_start\n    ret\n",
        4,
        1,
        "unknown instruction 'loop_start'; a label needs a colon",
        id="bare-word-label-hint",
    ),
    pytest.param(
        prog("    pushx"),
        6,
        5,
        "unknown instruction 'pushx' (did you mean",
        id="pushx-no-label-hint",
    ),
    pytest.param(
        prog("    movss xmm0, rax"), 6, 5, "operand form not supported", id="form-not-supported"
    ),
    pytest.param(
        prog("    mov eax, rbx"),
        6,
        5,
        "operand size mismatch: eax is 32-bit, rbx is 64-bit",
        id="size-mismatch",
    ),
    pytest.param(prog("    mov qword eax, 1"), 6, 15, "size mismatch", id="size-keyword-mismatch"),
    pytest.param(prog("    inc [rdi]"), 6, 5, "operation size not specified", id="no-size"),
    pytest.param(prog("    mov rax, nowhere"), 6, 14, "undefined symbol 'nowhere'", id="undefined"),
    pytest.param(prog("    jmp .missing"), 6, 9, "'_start.missing'", id="undefined-local"),
    pytest.param(
        "global _start\n_start:\n    nop\n_start:\n    ret\n",
        4,
        1,
        "symbol '_start' is already defined at t.asm:2",
        id="duplicate",
    ),
    pytest.param(
        prog("    %frobnicate 3"),
        6,
        5,
        "unknown preprocessor directive '%frobnicate'",
        id="unknown-directive",
    ),
    pytest.param("section .weird\n", 1, 9, "unknown section '.weird'", id="unknown-section"),
    pytest.param(
        "section .text progbits sparkly\n",
        1,
        24,
        "unknown section attribute 'sparkly'",
        id="unknown-section-attribute",
    ),
    pytest.param(
        "section .data\n    mov eax, 1\n",
        2,
        5,
        "instructions belong in section .text",
        id="insn-outside-text",
    ),
    pytest.param("section .bss\nx: dd 1\n", 2, 4, ".bss holds only zeros", id="data-in-bss"),
    pytest.param(
        prog("    add rax, 0x100000000"),
        6,
        5,
        "does not fit: add takes at most imm32",
        id="immediate-too-large",
    ),
    pytest.param(
        prog("    mov rax, [rdi + rcx*3]"), 6, 14, "scale must be 1, 2, 4 or 8 (got 3)", id="scale"
    ),
    pytest.param(
        prog("    mov rax, [rdi + rsp*2]"), 6, 14, "rsp cannot be an index register", id="rsp-index"
    ),
    pytest.param(
        prog("    mov ah, sil"), 6, 5, "ah cannot be used together with sil", id="high-byte-rex"
    ),
    pytest.param('section .data\nmsg: db "oops\n', 2, 9, "unterminated string", id="string"),
    pytest.param(prog("    mov eax, 12zz"), 6, 14, "invalid number '12zz'", id="bad-number"),
    pytest.param(prog("    mov eax, 1.5"), 6, 14, "__float32__", id="float-operand"),
    pytest.param(
        '%include "no_such_file.inc"\n',
        1,
        10,
        "cannot find include file 'no_such_file.inc'",
        id="missing-include",
    ),
    pytest.param("%ifdef X\nsection .text\n", 1, 1, "no matching %endif", id="if-without-endif"),
    pytest.param(
        "%ifndef N\n%error N must be defined\n%endif\n", 2, 1, "N must be defined", id="%error"
    ),
    pytest.param(
        "global _start\nextern f\n_start: mov rax, [rel f wrt ..gotpcrel]\n",
        3,
        25,
        "wrt ..gotpcrel is not supported",
        id="wrt-got",
    ),
    # macros, %rep, structures
    pytest.param(
        "%macro two 2\n  db %1, %2\n%endmacro\nsection .data\n  two 1\n",
        5,
        3,
        "macro 'two' takes 2 parameter(s), got 1 (defined at t.asm:1)",
        id="macro-arity",
    ),
    pytest.param(
        "%macro m 1\n  db %1\n", 1, 1, "%macro has no matching %endmacro", id="macro-unclosed"
    ),
    pytest.param("%rep 3\n  nop\n", 1, 1, "%rep has no matching %endrep", id="rep-unclosed"),
    pytest.param("  %endrep\n", 1, 3, "%endrep without a matching %rep", id="endrep-alone"),
    pytest.param("%rotate 1\n", 1, 1, "%rotate belongs inside a macro", id="rotate-outside"),
    pytest.param("%exitrep\n", 1, 1, "%exitrep outside a %rep", id="exitrep-outside"),
    pytest.param("%rep -1\n%endrep\n", 1, 1, "%rep count is negative", id="rep-negative"),
    pytest.param(
        "%macro m 1-2 a, b, c\n%endmacro\n",
        1,
        1,
        "3 default(s) given for 1 optional parameter(s)",
        id="macro-defaults",
    ),
    pytest.param(
        "%rmacro down 0\n  down\n%endmacro\nsection .text\n  down\n",
        2,
        3,
        "nested more than 100 deep",
        id="macro-recursion",
    ),
    pytest.param(
        "struc p\n  .x: resd 1\n  .y: dd 3\nendstruc\n", 3, 7, "dd in a struc", id="struc-data"
    ),
    pytest.param("struc p\n  .x: resd 1\n", 1, 1, "struc p has no endstruc", id="struc-open"),
    pytest.param("section .data\n  iend\n", 2, 3, "iend without istruc", id="iend-alone"),
    pytest.param("struc rax\nendstruc\n", 1, 7, "'rax' is a reserved word", id="struc-name"),
    pytest.param(
        "struc p\n.x: resd 1\n.y: resd 1\nendstruc\nsection .data\n"
        "istruc p\n  at p.y, dd 1\n  at p.x, dd 2\niend\n",
        8,
        6,
        "past this point of the structure",
        id="istruc-out-of-order",
    ),
    pytest.param(
        'section .data\n  incbin "no_such.bin"\n', 2, 10, "cannot find incbin file", id="incbin"
    ),
    pytest.param("section .data\n  dt 5\n", 2, 6, "dt holds 80-bit floating-point", id="dt-int"),
    # limits: each is one error at the directive, found before anything is allocated
    pytest.param("section .bss\n  resb 1 << 32\n", 2, 3, "the machine's limit is", id="resb-4g"),
    pytest.param("section .bss\n  resb 1 << 40\n", 2, 3, "the machine's limit is", id="resb-1t"),
    pytest.param("section .bss\n  resq 1 << 61\n", 2, 3, "the machine's limit is", id="resq-2e61"),
    pytest.param("  times 1 << 28 nop\n", 1, 3, "hold 1,073,741,824 bytes", id="times-nop"),
    pytest.param("  times 1 << 21 nop\n", 1, 3, "more than 524,288 instructions", id="times-insns"),
    pytest.param(
        "section .data\n  times 1 << 29 db 0\n", 2, 17, "bytes of initialised data", id="times-db"
    ),
    pytest.param(
        "section .data\n  times 1 << 62 dq 0\n", 2, 17, "the machine's limit is", id="times-dq"
    ),
    pytest.param(
        "%xdefine A A A\n" * 40, 14, 12, "expands to more than 10,000 tokens", id="xdefine-bomb"
    ),
    pytest.param("section .bss\n  align 1 << 40\n", 2, 3, "larger than", id="align-huge"),
]


@pytest.mark.parametrize(("source", "line", "column", "fragment"), ERRORS)
def test_error_points_at_the_line_and_says_what_is_wrong(source, line, column, fragment):
    assert_points_at(error_of(source), line, column, fragment)


def test_masm_ptr_is_explained():
    e = error_of(prog("    mov dword ptr [rdi], 1"))
    assert "NASM does not use PTR" in str(e)


def test_global_but_not_defined():
    e = error_of("global _start, helper\nsection .text\n_start:\n    ret\n")
    assert_points_at(e, 1, 16, "'helper' is declared global but not defined")


def test_extern_that_nobody_defines():
    e = error_of("global _start\nextern helper\nsection .text\n_start:\n    call helper\n")
    assert_points_at(e, 5, 10, "declared extern, but no file defines it")


def test_symbol_of_another_file_needs_extern_and_global():
    with pytest.raises(AsmError) as info:
        assemble(
            [
                ("a.asm", "global _start\nsection .text\n_start:\n    call helper\n"),
                ("b.asm", "section .text\nhelper:\n    ret\n"),
            ]
        )
    assert "add 'global helper' there" in str(info.value)


def test_every_bad_line_is_reported_in_one_run():
    e = error_of(prog("    mvo rax, 1\n    mov eax, rbx\n    jmp .nowhere"))
    text = str(e)
    assert text.count("error:") == 3
    lines = [int(ln.split(":")[1]) for ln in text.splitlines() if ": error: " in ln]
    assert lines == sorted(lines) == [6, 7, 8]


def test_recursive_define_is_an_error_not_a_hang():
    e = error_of("%define A B\n%define B A\nsection .data\nx: dd A\n")
    assert "A" in str(e)


def test_self_referential_equ():
    e = error_of(prog("    mov eax, X", "X equ X + 1"))
    assert "in terms of itself" in str(e)


def test_times_needs_a_known_count():
    e = error_of("section .data\n    times N db 0\nN equ 4\n")
    assert "must be defined before this line" in str(e)


# ---------------------------------------------------------------------------
# what the assembler accepts


def test_defines_from_the_command_line_override_defaults():
    src = "%ifndef N\n%define N 3\n%endif\n" + prog("    mov eax, N")
    assert asm(src).insns[0].operands[1].value == 3
    assert asm(src, defines={"N": "41"}).insns[0].operands[1].value == 41


def test_function_like_define_and_assign():
    src = "%define SQ(x) ((x) * (x))\n%assign K SQ(3) + 1\n" + prog("    mov eax, K")
    assert asm(src).insns[0].operands[1].value == 10


def test_if_elif_else():
    src = "%if N > 2\n%define R 1\n%elif N == 2\n%define R 2\n%else\n%define R 3\n%endif\n" + prog(
        "    mov eax, R"
    )
    assert [asm(src, defines={"N": n}).insns[0].operands[1].value for n in "321"] == [1, 2, 3]


def test_local_labels_belong_to_the_last_plain_label():
    img = asm(prog("    jmp .x\n.x: nop\nother:\n    jmp .x\n.x: ret"))
    syms = img.symbols
    assert img.insns[0].operands[0].value == syms["_start.x"].value
    assert img.insns[2].operands[0].value == syms["other.x"].value


def test_rip_relative_and_absolute_addressing():
    img = asm(
        prog(
            "    mov eax, [rel v]\n    mov eax, [v + rdi*4 + 8]\n    lea rsi, [rel v]",
            "v: dd 1, 2, 3",
        )
    )
    v = img.symbols["v"].value
    a, b, c = (i.operands[1] for i in img.insns[:3])
    assert isinstance(a, Mem) and a.rip_rel and a.disp == v and a.base is None
    assert b.index.name == "rdi" and b.scale == 4 and b.disp == v + 8
    assert c.rip_rel and c.disp == v


def test_scale_3_5_9_become_base_plus_index():
    m = asm(prog("    lea rax, [rcx*5 + 7]")).insns[0].operands[1]
    assert (m.base.name, m.index.name, m.scale, m.disp) == ("rcx", "rcx", 4, 7)


def test_narrow_immediates_are_sign_extended_like_the_cpu():
    img = asm(
        prog(
            "    push -1\n    mov qword [rel q], -2\n    add rax, 0x7fffffff\n    ret 8", "q: dq 0"
        )
    )
    assert [i.operands[-1].value for i in img.insns[:4]] == [-1, -2, 0x7FFFFFFF, 8]


def test_libm_externs_become_runtime_routines():
    img = asm(
        "global _start\nextern exp, logf\nsection .text\n_start:\n    call exp\n"
        "    call logf\n    ret\n"
    )
    hosts = {i.host: i.addr for i in img.insns if i.host}
    assert set(hosts) == {"exp", "logf"}
    assert img.insns[0].operands[0].value == hosts["exp"]


def test_data_in_text_and_equ_dollar():
    img = asm(
        "global _start\nsection .text\n_start:\n    mov edx, len\n    ret\n"
        "msg: db 'hello'\nlen equ $ - msg\n"
    )
    assert img.insns[0].operands[1].value == 5
    sec = img.sections[".text"]
    off = img.symbols["msg"].value - sec.addr
    assert bytes(sec.data[off : off + 5]) == b"hello"


def test_sections_are_laid_out_in_order_on_separate_pages():
    img = asm(prog("    ret", "d: dd 1") + "section .rodata\nr: dd 2\nsection .bss\nb: resd 4\n")
    s = img.sections
    assert s[".text"].addr == 0x401000
    assert s[".text"].addr < s[".rodata"].addr < s[".data"].addr < s[".bss"].addr
    assert all(s[n].addr % 0x1000 == 0 for n in (".rodata", ".data"))


def test_symbol_sizes_reach_the_next_label():
    img = asm("section .bss\nA: resd 10\nB: resb 3\nsection .text\nglobal _start\n_start: ret\n")
    assert img.symbols["A"].size == 40 and img.symbols["B"].size == 3


def test_missing_start_warns_and_starts_at_text():
    img = asm("section .text\nmain:\n    ret\n")
    assert img.entry == img.insns[0].addr
    assert any("_start" in w for w in img.warnings)


def test_include_is_found_next_to_the_including_file(tmp_path):
    (tmp_path / "k.inc").write_text("%define K 12\n")
    (tmp_path / "m.asm").write_text('%include "k.inc"\nglobal _start\n_start:\n    mov eax, K\n')
    img = assemble([str(tmp_path / "m.asm")])
    assert img.insns[0].operands[1].value == 12
    assert str(tmp_path / "k.inc") in img.sources


def test_listing_shows_addresses_symbols_and_sections():
    text = listing(assemble([str(REPO / "programs" / "examples" / "hello.asm")]))
    assert "00401000" in text
    assert "_start" in text and "message" in text
    assert ".text" in text and ".data" in text and "entry" in text


# ---------------------------------------------------------------------------
# expressions: NASM's operators and precedence


@pytest.mark.parametrize(
    "expr, value",
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("-8 / 2", ((-8) & (2**64 - 1)) // 2 - 2**64),
        ("-8 // 2", -4),
        ("-7 %% 3", -1),
        ("7 % 3", 1),
        ("1 << 4 | 1", 17),
        ("~0 & 0xFF", 255),
        ("0x10 + 10h + 0b11 + 11b + 17q", 16 + 16 + 3 + 3 + 15),
        ("'ab'", 0x6261),
        ("-1 >> 60", 15),
        ("3 == 3", 1),
        ("2 > 3 || 1", 1),
    ],
)
def test_expression_values(expr, value):
    img = asm(prog(f"    mov rax, {expr}"))
    got = img.insns[0].operands[1].value
    assert got & (2**64 - 1) == value & (2**64 - 1)


def test_float_bits_functions():
    img = asm(prog("    mov eax, __float32__(1.5)\n    mov rax, __float64__(-2.0)"))
    assert img.insns[0].operands[1].value & 0xFFFFFFFF == 0x3FC00000
    assert img.insns[1].operands[1].value & (2**64 - 1) == 0xC000000000000000


# ---------------------------------------------------------------------------
# data directives against nasm itself

DATA = r"""
section .data
a:  db 1, 2, -1, 255, 'x', "yz", `tab\tnl\n\x41\0`, 0
b:  dw 1, -2, 0xFFFF, 'ab', 'abc'
    align 8
c:  dd 1, -1, 0.1, -0.0, 1.5e-45, 3.4028234e38, 3.4028236e38, 1e-40, 16777217.0
    dd 0.3333333333333333, 1e39, __Infinity__, -__Infinity__, 0x1.8p3, 2.5
    dd __float32__(0.1), 1.17549421e-38, 1.1754942e-38, 7.006492e-46
d:  dq 0.1, -2.5, 1e300, 4.9e-324, 2.4703282292062328e-324, 123456789012345678
    dq 0.30000000000000004, 9007199254740993.0, -1, 0x7FFFFFFFFFFFFFFF
e:  times 5 db 0xAB
    times 3 dw 1, 2
len equ $ - a
f:  dd len, (d - c) / 4, b - a
g:  dw 1.5, -65504.0, 0.0001
    align 16
h:  db 'end'
"""


def _nasm_data(src: Path) -> bytes:
    """The .data bytes nasm itself makes of src (via objcopy)."""
    if shutil.which("nasm") is None or shutil.which("objcopy") is None:
        pytest.skip("nasm/objcopy not installed (apt-get install nasm binutils)")
    obj, raw = src.with_suffix(".o"), src.with_suffix(".bin")
    subprocess.run(
        ["nasm", "-felf64", "-w-all", f"-i{src.parent}/", str(src), "-o", str(obj)], check=True
    )
    subprocess.run(["objcopy", "-O", "binary", "-j", ".data", str(obj), str(raw)], check=True)
    return raw.read_bytes()


def _assert_data_like_nasm(src: Path) -> None:
    native = _nasm_data(src)
    img = assemble([str(src)])
    ours = bytes(img.sections[".data"].data[: len(native)])
    assert ours == native, _first_difference(native, ours, img)


def test_data_bytes_match_nasm(tmp_path):
    src = tmp_path / "data.asm"
    src.write_text(DATA + "section .text\nglobal _start\n_start: ret\n")
    _assert_data_like_nasm(src)


# each block: NASM features learners use, compared with nasm's own bytes
NASM_FEATURES = {
    "macro-parameters": """
%macro m 1-3 7, 9          ; defaults, and %0 counts them
  db %0, %1, %2, %3
%endmacro
%macro g 1+                ; greedy: the commas stay in %1
  db %1
%endmacro
%imacro Twice 1
  dw %1, %{1}
%endmacro
section .data
  m 1
  m 1, 2
  m 1, 2, 3
  m {1+1}, 2
  g 4, 5, 6
  TWICE 300
here: m 5                  ; a label before a call
""",
    "rotate-and-rep": """
%macro bytes 1-*
%rep %0
  db %1 * 2
%rotate 1
%endrep
%endmacro
%macro rbytes 1-*
%rep %0
%rotate -1
  db %1
%endrep
%endmacro
section .data
  bytes 10, 11, 12
  rbytes 1, 2, 3, 4
%assign i 0
%rep 10
  %assign i i + 1
  %if i == 5
    %exitrep
  %endif
  dw i * i
%endrep
%rep 2
%rep 3
  db 0xAA
%endrep
  db 0xBB
%endrep
""",
    "local-labels-and-conditions": """
%macro entry 2
%%start: dd %%end - %%start, %1
%ifidn %2, big
  dq -1
%else
  dd %2
%endif
%%end:
%endmacro
section .data
  entry 1, 5
  entry 2, big
  entry 3, 7
%rmacro rec 1
  db %1
%if %1 > 0
  rec %1 - 1
%endif
%endmacro
  rec 4
""",
    "conditions-in-macros": """
%macro kind 0-1
%ifempty %1
  db 0
%elifnum %1
  db 1
%elifstr %1
  db 2
%elifid %1
  db 3
%else
  db 4
%endif
%ifidni %1, RAX
  db 9
%endif
%ifnidn %1, rax
  db 8
%endif
%endmacro
%macro early 1
  db 0x10
%if %1
%exitmacro
%endif
  db 0x11
%endmacro
section .data
  kind
  kind 5
  kind "s"
  kind rax
  kind 1+1
  early 0
  early 1
%ifmacro early
  db 0x20
%endif
%unmacro early 1
%ifnmacro early
  db 0x21
%endif
""",
    "structures": """
struc point
  .x:    resd 1
  .y:    resd 1
  .name: resb 10
endstruc
struc pair, 4
  first:  resw 1
  second: resq 1
endstruc
section .data
p1: istruc point
  at point.x, dd 5
  at point.y, dd -1
  at point.name, db "ab"
iend
p2: istruc point
  at point.y, dd 3
iend
  dq point_size, point.y, point.name, pair_size, first, second, p2 - p1
""",
    "incbin": """
section .data
  db "<"
  incbin "blob.bin"
  db "|"
  incbin "blob.bin", 3
  db "|"
  incbin "blob.bin", 2, 4
  db ">"
common shared 16
""",
    "literals-and-forms": """
[BITS 64]
default rel
[SECTION .data]
  dq 0h, 0x_ff, 0b1010, 1010b, 17q, 0d99, $1F, 1_000
  dt 1.5, -2.0, 3.14159265358979323846, 0.1, 1e-4940, __Infinity__
  db 'caf\xe9', "\xfc"      ; Latin-1 bytes \xe9 in a comment
  dq $$ - $$, 1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1
section .rodata.str1.1 progbits alloc noexec nowrite
  db "ro"
section .note.GNU-stack noalloc noexec nowrite progbits
[GLOBAL _start]
""",
}


@pytest.mark.parametrize("name", list(NASM_FEATURES))
def test_nasm_features_make_nasms_bytes(name, tmp_path):
    text = NASM_FEATURES[name] + "section .text\nglobal _start\n_start: ret\n"
    src = tmp_path / "f.asm"
    (tmp_path / "blob.bin").write_bytes(bytes(range(250, 256)) + b"\x00binary\xff")
    src.write_bytes(text.encode("latin-1"))  # \xe9 stays one Latin-1 byte
    _assert_data_like_nasm(src)


def _first_difference(a: bytes, b: bytes, img) -> str:
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
    base = img.sections[".data"].addr
    sym = img.symbol_at(base + i)
    return (
        f"first difference at .data+{i} ({sym.name if sym else '?'}): nasm "
        f"{a[i : i + 8].hex()} vs ours {b[i : i + 8].hex()}"
    )


@settings(max_examples=200, deadline=None)
@given(st.floats(width=32, allow_nan=False))
def test_dd_float_literals_round_like_the_float32_value(x):
    """repr(x) of a float32 value read back with dd gives exactly that float32."""
    lit = repr(float(x))
    if "inf" in lit:
        return
    img = asm(f"section .data\nv: dd {lit}\nsection .text\nglobal _start\n_start: ret\n")
    got = bytes(img.sections[".data"].data[:4])
    assert got == struct.pack("<f", x)


# ---------------------------------------------------------------------------
# disassembly round trip: what the listing prints assembles to the same instruction


def test_disassembly_reassembles_to_the_same_instructions():
    files = sorted(str(p) for p in (REPO / "programs" / "mnist").glob("*.asm"))
    img = assemble(files)
    for insn in img.insns:
        if insn.host:
            continue
        ops = []
        for o in insn.operands:
            if isinstance(o, Mem):
                ops.append(str(o.with_size(o.size)).replace(o.text or "\0", _mem_text(o)))
            elif isinstance(o, Imm):
                ops.append(str(o.value))
            else:
                ops.append(o.name)
        text = f"{insn.mnemonic} {', '.join(ops)}"
        again = asm(prog("    " + text)).insns[0]
        assert again.defn is insn.defn and again.form == insn.form, text
        assert _norm(again.operands) == _norm(insn.operands), text


def _mem_text(m: Mem) -> str:
    parts = [
        p
        for p in (m.base.name if m.base else None, f"{m.index.name}*{m.scale}" if m.index else None)
        if p
    ]
    parts.append(str(m.disp))
    return " + ".join(parts)


def _norm(ops):
    out = []
    for o in ops:
        if isinstance(o, Mem):
            out.append((o.base, o.index, o.scale, o.disp & (2**64 - 1), o.size))
        elif isinstance(o, Imm):
            out.append(o.value)
        else:
            out.append(o)
    return out


# ---------------------------------------------------------------------------
# fuzz: no input produces anything but an image or an assembler error

ATOMS = [
    "mov",
    "add",
    "rax",
    "eax",
    "al",
    "ah",
    "xmm0",
    "[",
    "]",
    ",",
    "+",
    "-",
    "*",
    "(",
    ")",
    "1",
    "0x10",
    "1.5",
    "'a'",
    '"s',
    "`\\x4`",
    "$",
    "$$",
    "label",
    ".loc",
    ":",
    "db",
    "dd",
    "dq",
    "resb",
    "times",
    "equ",
    "align",
    "section",
    ".data",
    ".text",
    ".bss",
    "global",
    "extern",
    "%define",
    "%ifdef",
    "%if",
    "%else",
    "%endif",
    "%include",
    "%assign",
    "qword",
    "dword",
    "byte",
    "rel",
    "movss",
    "shufps",
    "jmp",
    "call",
    "ret",
    "\n",
    " ",
    "__float32__",
    "//",
    "%%",
    "<<",
    ">>",
    "~",
    "!",
    "==",
    ";",
    "\\",
    "__Infinity__",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(ATOMS), st.text(max_size=4)), max_size=40))
def test_fuzz_source_text_gives_an_image_or_an_assembler_error(parts):
    text = " ".join(parts)
    try:
        asm(text)
    except AsmInternalError as e:
        raise AssertionError(f"internal error for {text!r}: {e}") from e
    except AsmError:
        pass


@contextlib.contextmanager
def _small_limits():
    saved = {k: getattr(limits, k) for k in ("MAX_PREPROCESSED_LINES", "MAX_ITEMS")}
    limits.MAX_PREPROCESSED_LINES = 20_000
    limits.MAX_ITEMS = 20_000
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(limits, k, v)


# lines of the macro, %rep and structure languages, to be shuffled and cut
# by the fuzzer: any mix must give an image or an AsmError
MACRO_LINES = [
    "%macro m 1-3 7, 9",
    "%macro g 1+",
    "%macro z 0",
    "%rmacro r 1",
    "%imacro I 0-*",
    "%endmacro",
    "  db %0, %1, %2",
    "  dq %%lab - $",
    "%%lab:",
    "  r %1",
    "  m 1",
    "  m 1, 2, 3, 4",
    "  g 4, 5, 6",
    "  z",
    "  i a, b",
    "%rotate 1",
    "%rotate -1",
    "%rep 3",
    "%rep %0",
    "%rep -2",
    "%rep 1 << 40",
    "%endrep",
    "%exitrep",
    "%exitmacro",
    "%if 1",
    "%ifidn %1, rax",
    "%else",
    "%endif",
    "%assign k k + 1",
    "%assign k 0",
    "%xdefine A A A",
    "struc s",
    "struc s, 4",
    "  .f: resd 1",
    "  .g: resb 3",
    "  .h: dd 1",
    "endstruc",
    "istruc s",
    "  at s.f, dd 1",
    "  at s.g, db 1, 2, 3, 4, 5",
    "iend",
    "section .data",
    "section .text",
    "section .bss",
    "section .note.GNU-stack noalloc",
    "[section .data]",
    "common c 8",
    "  dt 1.5",
    "  resb 1 << 33",
    "  times 1 << 30 nop",
    "  times 1 << 12 nop",
    "  call f wrt ..plt",
    "f: ret",
    "  nop",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(MACRO_LINES),
            st.builds(lambda a, b: a[: len(a) // 2] + b, st.sampled_from(MACRO_LINES), st.text()),
        ),
        max_size=30,
    )
)
def test_fuzz_macros_rep_and_strucs_give_an_image_or_an_assembler_error(lines):
    text = "\n".join(lines)
    try:
        with _small_limits():  # the same checks, reached in milliseconds
            asm(text)
    except AsmInternalError as e:
        raise AssertionError(f"internal error for {text!r}: {e}") from e
    except AsmError:
        pass


# lines of the newer syntax (prefixes, string instructions, AVX operands and
# the AVX-512 decorators that are refused), inside and around macros, %rep and
# strucs, to be shuffled, cut and spliced with random text by the fuzzer
PREFIX_AVX_LINES = [
    "  rep movsb",
    "  rep stosq",
    "  rep lodsd",
    "  repe cmpsb",
    "  repz cmpsw",
    "  repne scasb",
    "  repnz scasq",
    "  rep",
    "  rep nop",
    "  rep lock movsb",
    "  rep movsb [rdi]",
    "  rep movsb 1",
    "  times 3 rep movsb",
    "  times 2 lock inc dword [rdi]",
    "  movsb",
    "  cmpsq",
    "  movsd",
    "  movsd xmm0, xmm1",
    "  lock add [rdi], eax",
    "  lock xadd [rdi], rax",
    "  lock cmpxchg [rdi], ecx",
    "  lock add eax, 1",
    "  lock mov [rdi], eax",
    "  lock lock inc byte [rdi]",
    "  lock",
    "x: lock inc qword [rel x]",
    "  vaddps zmm0, zmm1, zmm2",
    "  vaddps ymm0, ymm1, [rdi]",
    "  vaddps zmm0{k1}, zmm1, zmm2",
    "  vaddps zmm0 {k1}{z}, zmm1, zmm2",
    "  vaddps zmm0, zmm1, [rdi]{1to16}",
    "  vmovups [rdi]{k2}, zmm3",
    "  vaddps xmm0, xmm1, xmm2, {rn-sae}",
    "  vaddps {k1} zmm0, zmm1, zmm2",
    "  vpaddd zmm0 {k1, zmm1, zmm2",
    "  vaddps zmm31, zmm16, zmm8",
    "  vfmadd231ps ymm0, ymm1, ymm2",
    "  kmovw k1, eax",
    "  vaddps zmm0 K, zmm1, zmm2",
    "%define K {k1}",
    "%define P rep",
    "  P movsb",
    "%macro s 1-2",
    "  rep %1",
    "  lock %2 [rdi], eax",
    "  vaddps %1{k%2}, zmm1, zmm2",
    "%endmacro",
    "  s movsb",
    "  s stosb, add",
    "  s zmm0, 1",
    "  s nop",
    "%rep 3",
    "%endrep",
    "struc q",
    "  .v: resq 1",
    "endstruc",
    "  rep movsb q.v",
    "  lock add [rdi + q.v], eax",
    "section .text",
    "section .data",
    "  db 1",
    "_start:",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(PREFIX_AVX_LINES),
            st.builds(
                lambda a, b: a[: len(a) // 2] + b, st.sampled_from(PREFIX_AVX_LINES), st.text()
            ),
            st.builds(
                lambda a, b, k: a[:k] + b[k:],
                st.sampled_from(PREFIX_AVX_LINES),
                st.sampled_from(PREFIX_AVX_LINES),
                st.integers(0, 30),
            ),
        ),
        max_size=30,
    )
)
def test_fuzz_prefixes_strings_and_avx_decorators_give_an_image_or_an_assembler_error(lines):
    text = "\n".join(lines)
    try:
        with _small_limits():
            asm(text)
    except AsmInternalError as e:
        raise AssertionError(f"internal error for {text!r}: {e}") from e
    except AsmError as e:
        if any("{" in ln and "}" in ln for ln in lines) and "decorators" in str(e):
            assert "not supported" in str(e)


# ---------------------------------------------------------------------------
# limits: hostile inputs end in one AsmError, in bounded memory and time


def _include_tree(tmp_path: Path, levels: int) -> Path:
    """level0.asm includes level1.asm twice, which includes level2.asm twice..."""
    for k in range(levels):
        body = f'%include "level{k + 1}.asm"\n' * 2 if k + 1 < levels else "  nop\n"
        (tmp_path / f"level{k}.asm").write_text(body)
    return tmp_path / "level0.asm"


@pytest.mark.parametrize(
    ("levels", "fragment"),
    [(30, "expands to more than 20,000 lines"), (41, "%include nested too deeply")],
)
def test_include_tree_is_bounded(tmp_path, levels, fragment):
    top = _include_tree(tmp_path, levels)  # 2**levels includes if nothing stopped it
    with _small_limits():
        with pytest.raises(AsmError) as info:
            assemble([str(top)])
    assert fragment in str(info.value)
    assert not isinstance(info.value, AsmInternalError)


def test_rep_bombs_are_bounded_by_the_expansion_limit():
    for src in ("%rep 1 << 40\n%endrep\n", "%rep 1 << 20\n%rep 1 << 20\n  nop\n%endrep\n%endrep\n"):
        with _small_limits():
            e = error_of(src)
        assert "expands to more than 20,000 lines" in str(e), src


def test_source_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.asm"
    with open(big, "wb") as f:
        f.truncate(limits.MAX_SOURCE_BYTES + 1)
    with pytest.raises(AsmError) as info:
        assemble([str(big)])
    assert "larger than 16,777,216 bytes" in str(info.value)


LIMIT_CASES = {
    "resb-4g": "section .bss\n resb 1 << 32\n",
    "resb-1t": "section .bss\n resb 1 << 40\n",
    "resq-2e61": "section .bss\n resq 1 << 61\n",
    "times-nop": " times 1 << 28 nop\n",
    "xdefine": "%xdefine A A A\n" * 40,
    "rep-nop": "%rep 1 << 40\n nop\n%endrep\n",
}
_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))  # 2 GiB of address space
from vm.asm import assemble
from vm.errors import AsmError
out = {}
for name, src in json.loads(sys.stdin.read()).items():
    try:
        assemble([("t.asm", src)])
        out[name] = "assembled"
    except AsmError as e:
        out[name] = type(e).__name__ + ": " + e.message
# the peak since exec (ru_maxrss would start from the forking parent's)
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
out["maxrss_mb"] = int(hwm[0].split()[1]) // 1024
print(json.dumps(out))
"""


@pytest.mark.slow
def test_hostile_sources_fail_cleanly_within_a_memory_ceiling():
    import json
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(LIMIT_CASES),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for name in LIMIT_CASES:
        assert result[name].startswith("AsmError: "), (name, result[name])
    assert result["maxrss_mb"] < 400, result


def test_incbin_in_a_dropped_section_counts_against_the_initialised_limit(tmp_path):
    # the bytes are read and held although the section is not loaded
    (tmp_path / "z.bin").write_bytes(bytes(1 << 20))
    src = 'section .note.x noalloc\n%rep 300\n  incbin "z.bin"\n%endrep\n'
    (tmp_path / "t.asm").write_text(src)
    with pytest.raises(AsmError) as info:
        assemble([str(tmp_path / "t.asm")])
    assert "more than the 268,435,456 bytes of initialised data allowed" in str(info.value)
