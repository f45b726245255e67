"""The file sandbox (vm/sandbox.py): Linux's errnos inside the root, EACCES
for every way out, and no way out through a symlink swapped in during a
lookup (a real race against another process, guest opening in a loop).

The static escapes through the machine are in tests/test_machine.py."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vm import Machine, assemble
from vm.sandbox import (
    GUEST_O_APPEND,
    GUEST_O_CREAT,
    GUEST_O_DIRECTORY,
    GUEST_O_EXCL,
    GUEST_O_NOFOLLOW,
    GUEST_O_TRUNC,
    Sandbox,
)

O_RDONLY, O_WRONLY, O_RDWR = 0, 1, 2


def errno_of(box: Sandbox, path: bytes, flags: int = O_RDONLY) -> int:
    try:
        fd = box.open(path, flags, 0o644)
    except OSError as e:
        return e.errno
    os.close(fd)
    return 0


def read_via(box: Sandbox, path: bytes) -> bytes:
    fd = box.open(path, O_RDONLY)
    try:
        return os.read(fd, 100)
    finally:
        os.close(fd)


@pytest.fixture
def tree(tmp_path):
    """root/{f.txt, sub/g.txt, links...} with secret.txt and outdir/ outside the root."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "f.txt").write_text("f")
    (root / "sub" / "g.txt").write_text("g")
    (tmp_path / "secret.txt").write_text("SECRET")
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "x").write_text("SECRET")
    os.symlink("f.txt", root / "rel_in")
    os.symlink("../f.txt", root / "sub" / "up_in")
    os.symlink(root / "sub" / "g.txt", root / "abs_in")
    os.symlink("sub", root / "dirlink")
    os.symlink("../secret.txt", root / "rel_out")
    os.symlink(tmp_path / "secret.txt", root / "abs_out")
    os.symlink(tmp_path / "outdir", root / "dir_out")
    os.symlink("sub/../../secret.txt", root / "sneaky")
    os.symlink(str(root) + "/../secret.txt", root / "abs_sneaky")
    os.symlink("loop_b", root / "loop_a")
    os.symlink("loop_a", root / "loop_b")
    os.symlink("nothere", root / "dangling")
    box = Sandbox(str(root))
    yield root, box
    box.close()


@pytest.mark.parametrize(
    "path, content",
    [
        (b"f.txt", b"f"),
        (b"./sub/../f.txt", b"f"),
        (b"rel_in", b"f"),
        (b"sub/up_in", b"f"),
        (b"abs_in", b"g"),
        (b"dirlink/g.txt", b"g"),
        (b"dirlink/../f.txt", b"f"),  # `..` is lexical: back to the link's directory
    ],
)
def test_paths_and_symlinks_that_stay_inside_open(tree, path, content):
    _, box = tree
    assert read_via(box, path) == content


@pytest.mark.parametrize(
    "path",
    [
        b"/etc/passwd",
        b"..",
        b"../secret.txt",
        b"sub/../../secret.txt",
        b"rel_out",
        b"abs_out",
        b"dir_out/x",
        b"sneaky",
        b"abs_sneaky",
        b"dirlink/../../secret.txt",
    ],
)
def test_every_way_out_is_eacces(tree, path):
    _, box = tree
    assert errno_of(box, path) == errno.EACCES
    assert errno_of(box, path, O_WRONLY | GUEST_O_CREAT | GUEST_O_TRUNC) == errno.EACCES


def test_writes_through_an_escaping_symlink_change_nothing_outside(tree):
    root, box = tree
    assert errno_of(box, b"abs_out", O_WRONLY | GUEST_O_CREAT | GUEST_O_TRUNC) == errno.EACCES
    assert (root.parent / "secret.txt").read_text() == "SECRET"


@pytest.mark.parametrize(
    "path, flags, err",
    [
        (b"nope", O_RDONLY, errno.ENOENT),
        (b"", O_RDONLY, errno.ENOENT),
        (b"nope/f", O_RDONLY, errno.ENOENT),
        (b"f.txt/x", O_RDONLY, errno.ENOTDIR),
        (b"f.txt/", O_RDONLY, errno.ENOTDIR),
        (b"f.txt", O_WRONLY | GUEST_O_CREAT | GUEST_O_EXCL, errno.EEXIST),
        (b"rel_in", O_WRONLY | GUEST_O_CREAT | GUEST_O_EXCL, errno.EEXIST),  # not followed
        (b"sub", O_WRONLY, errno.EISDIR),
        (b".", O_RDWR, errno.EISDIR),
        (b"f.txt", O_RDONLY | GUEST_O_DIRECTORY, errno.ENOTDIR),
        (b"rel_in", O_RDONLY | GUEST_O_NOFOLLOW, errno.ELOOP),
        (b"loop_a", O_RDONLY, errno.ELOOP),
        (b"dangling", O_RDONLY, errno.ENOENT),
        (b"f.txt", 3, errno.EINVAL),
    ],
)
def test_errors_are_linux_errnos(tree, path, flags, err):
    _, box = tree
    assert errno_of(box, path, flags) == err


def test_directories_open_with_o_directory(tree):
    _, box = tree
    for path in (b".", b"sub", b"sub/", b"dirlink", b"sub/.."):
        assert errno_of(box, path, O_RDONLY | GUEST_O_DIRECTORY) == 0, path


def test_create_exclusive_truncate_and_append(tree):
    root, box = tree
    fd = box.open(b"sub/new.bin", O_WRONLY | GUEST_O_CREAT | GUEST_O_EXCL, 0o600)
    os.write(fd, b"one")
    os.close(fd)
    assert (root / "sub" / "new.bin").stat().st_mode & 0o777 == 0o600
    fd = box.open(b"sub/new.bin", O_WRONLY | GUEST_O_APPEND)
    os.write(fd, b"two")
    os.close(fd)
    assert (root / "sub" / "new.bin").read_bytes() == b"onetwo"
    fd = box.open(b"sub/new.bin", O_WRONLY | GUEST_O_TRUNC)
    os.close(fd)
    assert (root / "sub" / "new.bin").read_bytes() == b""


def test_create_through_a_dangling_symlink_creates_its_target_inside(tree):
    root, box = tree
    fd = box.open(b"dangling", O_WRONLY | GUEST_O_CREAT, 0o644)
    os.close(fd)
    assert (root / "nothere").exists()


def test_an_absolute_symlink_may_name_the_root_as_given(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.txt").write_text("a")
    os.symlink(real, tmp_path / "alias")
    os.symlink(tmp_path / "alias" / "a.txt", real / "via_alias")
    box = Sandbox(str(tmp_path / "alias"))
    assert read_via(box, b"via_alias") == b"a"
    box.close()


def test_open_exclusive_on_an_existing_file_gives_eexist_to_the_guest(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    src = (
        "global _start\nsection .data\npath: db 'f.txt', 0\nsection .text\n_start:\n"
        "    mov eax, 2\n    lea rdi, [rel path]\n    mov esi, 0xC1\n    mov edx, 0o644\n"
        "    syscall\n    mov rbx, rax\n    mov eax, 60\n    xor edi, edi\n    syscall\n"
    )
    m = Machine(assemble([("t.asm", src)]), root=str(tmp_path), stdout=io.BytesIO())
    m.run()
    assert m.r[3] == (-errno.EEXIST) & (2**64 - 1)
    assert (tmp_path / "f.txt").read_text() == "x"


@pytest.mark.parametrize("pairs, err", [(2047, errno.ENOENT), (2048, errno.ENAMETOOLONG)])
def test_a_path_of_path_max_bytes_or_more_is_enametoolong(tmp_path, pairs, err):
    # './' * pairs + 'x': 4095 bytes (fits with its NUL) or 4097
    src = (
        f"global _start\nsection .data\npath: times {pairs} db './'\n    db 'x', 0\n"
        "section .text\n_start:\n    mov eax, 2\n    lea rdi, [rel path]\n"
        "    xor esi, esi\n    syscall\n    mov rbx, rax\n    mov eax, 60\n    xor edi, edi\n"
        "    syscall\n"
    )
    m = Machine(assemble([("t.asm", src)]), root=str(tmp_path), stdout=io.BytesIO())
    m.run()
    assert m.r[3] == (-err) & (2**64 - 1)


# ---------------------------------------------------------------------------
# fuzzing: any path made of the tree's names, `.`, `..` and links, with any
# open flags, either fails or opens something inside the root


def _inodes(top) -> set[tuple[int, int]]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames + ["."]:
            st_ = os.lstat(os.path.join(dirpath, name))
            found.add((st_.st_dev, st_.st_ino))
    return found


PARTS = ["..", ".", "", "sub", "f.txt", "g.txt", "rel_in", "up_in", "abs_in", "dirlink"]
PARTS += ["rel_out", "abs_out", "dir_out", "sneaky", "abs_sneaky", "loop_a", "dangling", "x"]
FLAGS = [O_RDONLY, O_WRONLY, O_RDWR, GUEST_O_CREAT, GUEST_O_EXCL, GUEST_O_TRUNC]
FLAGS += [GUEST_O_APPEND, GUEST_O_DIRECTORY, GUEST_O_NOFOLLOW]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=6),
    flag_bits=st.lists(st.sampled_from(FLAGS), max_size=3),
)
def test_fuzzed_paths_never_open_anything_outside(tree, parts, flag_bits):
    root, box = tree
    flags = 0
    for bit in flag_bits:
        flags |= bit
    outside_before = sorted(os.listdir(root.parent)), sorted(os.listdir(root.parent / "outdir"))
    try:
        fd = box.open("/".join(parts).encode(), flags, 0o644)
    except OSError:
        pass
    else:
        st_ = os.fstat(fd)
        os.close(fd)
        assert (st_.st_dev, st_.st_ino) in _inodes(root), parts
    assert (root.parent / "secret.txt").read_text() == "SECRET"
    assert (root.parent / "outdir" / "x").read_text() == "SECRET"
    assert outside_before == (
        sorted(os.listdir(root.parent)),
        sorted(os.listdir(root.parent / "outdir")),
    )


# ---------------------------------------------------------------------------
# the race: another process swaps a name between a regular file (or directory)
# and a symlink leading out, while the guest opens it in a loop

SWAPPER = r"""
import os, shutil, sys
root, outside, name, n, kind = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
target = os.path.join(root, name)
link, real, old = target + ".l", target + ".r", target + ".o"
rel = os.path.relpath(outside, root)
for i in range(n):
    os.symlink(outside if i % 2 else rel, link)
    if kind == "dir":
        os.rename(target, old)
        os.rename(link, target)  # now a symlink out of the root
        # the guest may still hold the old directory open and create x in it
        # again (inside the root: allowed), so empty it until it can go
        while os.path.lexists(old):
            shutil.rmtree(old, ignore_errors=True)
        os.mkdir(real)
        with open(os.path.join(real, "x"), "w") as f:
            f.write("inside")
        os.unlink(target)
        os.rename(real, target)  # a real directory again
    else:
        os.rename(link, target)  # now a symlink out of the root
        with open(real, "w") as f:
            f.write("inside")
        os.rename(real, target)  # a regular file again
open(os.path.join(root, "done"), "w").close()
print(n)
"""

# Guest: until `done` exists, open PATH (read: read it and count reads of
# "SECRET"; write: O_WRONLY|O_CREAT|O_TRUNC and write "guest"), counting
# opens that succeeded (r13) and failed (r14). r12 = SECRET seen.
RACER = """
global _start
section .data
path: db '{path}', 0
done: db 'done', 0
section .bss
buf: resb 64
section .text
_start:
.loop:
    mov eax, 2
    lea rdi, [rel done]
    xor esi, esi
    syscall
    test rax, rax
    jns .finish
    mov eax, 2
    lea rdi, [rel path]
    mov esi, {flags}
    mov edx, 0o644
    syscall
    test rax, rax
    js .failed
    inc r13
    mov rbx, rax
    {io}
    mov eax, 3
    mov edi, ebx
    syscall
    jmp .loop
.failed:
    inc r14
    jmp .loop
.finish:
    mov eax, 60
    xor edi, edi
    syscall
"""
READ_IO = """mov qword [rel buf], 0
    xor eax, eax
    mov edi, ebx
    lea rsi, [rel buf]
    mov edx, 64
    syscall
    cmp dword [rel buf], 0x52434553  ; 'SECR'
    jne .clean
    inc r12
.clean:"""
WRITE_IO = """mov eax, 1
    mov edi, ebx
    lea rsi, [rel done]
    mov edx, 4
    syscall"""


def race(tmp_path, swaps: int, mode: str, kind: str) -> tuple[int, int, int]:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / ("outdir" if kind == "dir" else "secret.txt")
    if kind == "dir":
        outside.mkdir()
        (outside / "x").write_text("SECRET")
        name, path = "d", "d/x"
        os.mkdir(root / "d")
        (root / "d" / "x").write_text("inside")
    else:
        outside.write_text("SECRET")
        name = path = "race"
        (root / "race").write_text("inside")
    flags = "0" if mode == "read" else "0x241"
    src = RACER.format(path=path, flags=flags, io=READ_IO if mode == "read" else WRITE_IO)
    m = Machine(assemble([("race.asm", src)]), root=str(root), stdout=io.BytesIO())
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(root), str(outside), name, str(swaps), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def end_the_guest_loop() -> None:  # also when the swapper dies: the guest waits for `done`
        swapper.wait()
        (root / "done").touch()

    watcher = threading.Thread(target=end_the_guest_loop, daemon=True)
    watcher.start()
    try:
        status = m.run(max_steps=2_000_000_000)
    finally:
        out, err = swapper.communicate(timeout=600)
        watcher.join()
    assert swapper.returncode == 0 and int(out) == swaps, err.decode(errors="replace")
    assert status == 0
    secret = (outside / "x") if kind == "dir" else outside
    assert secret.read_text() == "SECRET"  # nothing outside was written
    assert sorted(os.listdir(tmp_path)) == sorted(["root", outside.name])  # nor created
    if kind == "dir":
        assert os.listdir(outside) == ["x"]
    return m.r[12], m.r[13], m.r[14]


@pytest.mark.parametrize("mode", ["read", "write"])
def test_a_symlink_swapped_in_during_the_lookup_never_leads_out(tmp_path, mode):
    secret_reads, opened, refused = race(tmp_path, 2_000, mode, "file")
    assert secret_reads == 0
    # the race happened: the guest saw both the file and the symlink
    assert opened > 0 and refused > 0


@pytest.mark.slow
@pytest.mark.parametrize("swaps", [2_000, 10_000])
@pytest.mark.parametrize("kind", ["file", "dir"])
@pytest.mark.parametrize("mode", ["read", "write"])
def test_many_swaps_of_files_and_directories_never_lead_out(tmp_path, mode, kind, swaps):
    secret_reads, opened, refused = race(tmp_path, swaps, mode, kind)
    assert secret_reads == 0 and opened > 0 and refused > 0
