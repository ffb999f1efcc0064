"""The on-disk code cache: a second run reuses compiled regions, and nothing in the cache is
trusted: damaged files, foreign files, files planted by someone without the user's key,
files that are no regular files, and changed guest code all lead to fresh translation.

The runs compile every region when first reached (`--tier 1`), so that what the first run
leaves is the same every time; tiered runs use the same cache."""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import stat
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import wasmtime as wt
from toolchain import PROGRAMS, Outcome, run_mvvm, run_qemu

import mvvm
from mvvm.runtime.cachefiles import CacheRoot, hasher
from mvvm.runtime.diskcache import (
    FRAME,
    MAGIC,
    MAX_WANTED,
    SOURCES,
    Batch,
    DiskCache,
    Member,
    _sources,
)
from mvvm.runtime.engine import make_engine
from mvvm.runtime.image import SHORT_RUN, Image, tier1_hold
from mvvm.runtime.profile import SIZE as PROFILE_SIZE
from mvvm.runtime.profile import ProfileData, merged, translator_profile
from mvvm.runtime.translations import Translations
from mvvm.translator.modules import TrapMap, export_name
from mvvm.wasm import encoder as w


@pytest.fixture
def program(build_program) -> Path:
    return build_program(PROGRAMS / "control.c", "O2")


def run_cached(program: Path, cache: Path, env: dict[str, str], stats: Path,
               args: list[str] = (), options: tuple[str, ...] = ("--tier", "1")
               ) -> tuple[Outcome, dict]:
    outcome = run_mvvm(program, args, options=[*options, "--stats", str(stats)],
                       env={**env, "XDG_CACHE_HOME": str(cache)})
    return outcome, json.loads(stats.read_text())


def cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("mvvm/*/*.cache"))


def test_second_run_loads_every_region(program, tmp_path, guest_env):
    expected = run_qemu(program, env=guest_env)
    first, stats1 = run_cached(program, tmp_path, guest_env, tmp_path / "s1")
    second, stats2 = run_cached(program, tmp_path, guest_env, tmp_path / "s2")
    assert first == expected and second == expected
    assert stats1["regions"] > 0 and stats1["cached_regions"] == 0
    assert stats2["regions"] == 0 and stats2["cached_regions"] == stats1["regions"]


def test_a_warm_run_loads_neither_translator_nor_decoder(program, tmp_path, guest_env):
    """With every region in the cache, the translator, the decoder and the FP slow path
    stay unloaded: importing them was 10 ms of a 0.12 s warm start. So does dataclasses
    (its import of inspect, and the classes it makes: 13 ms)."""
    run_cached(program, tmp_path, guest_env, tmp_path / "s1")
    second, stats = run_cached(program, tmp_path, {**guest_env, "PYTHONPROFILEIMPORTTIME": "1"},
                               tmp_path / "s2")
    assert stats["regions"] == 0 and stats["cached_regions"] > 0
    loaded = {line.rsplit(b"|", 1)[1].strip().decode() for line in second.stderr.splitlines()
              if line.startswith(b"import time:")}
    assert "mvvm.runtime.vm" in loaded
    assert not loaded & {"mvvm.translator.region", "mvvm.translator.translate",
                         "mvvm.isa.instr", "mvvm.isa.decoder", "mvvm.runtime.fp_soft",
                         "dataclasses"}


def _batches(path: Path, root: CacheRoot) -> dict[str, Batch]:
    """The intact batches of a cache file."""
    disk = DiskCache(path, make_engine(), root)
    return {name: batch for name in list(disk.entries) if (batch := disk._load(name))}


def _newest_regions(cache: Path) -> dict[int, set[int]]:
    """Each entry in the cache and the guest code its newest region holds (its bytes)."""
    (path,) = cache_files(cache)
    batches = _batches(path, CacheRoot.open(cache / "mvvm"))
    newest = {member.pc: batch.name for batch in batches.values() for member in batch.members}
    return {member.pc: {at for lo, hi in member.ranges for at in range(lo, hi)}
            for batch in batches.values() for member in batch.members
            if newest[member.pc] == batch.name}


def test_a_warm_run_mends_what_the_cached_regions_left_out(build_program, tmp_path,
                                                           guest_env):
    """Run without arguments, the loop's region leaves out the side of its branch that
    never ran; run with one, that side runs often, and the region is translated again
    with it (from the profile the first run saved and the run's own): the next run
    installs the mended region and translates nothing."""
    program = build_program(PROGRAMS / "sides.c", "O2")
    tiered = ("--tier", "tiered")
    first, _ = run_cached(program, tmp_path, guest_env, tmp_path / "s1", options=tiered)
    assert first == run_qemu(program, env=guest_env)
    before = _newest_regions(tmp_path)
    expected = run_qemu(program, ["1"], env=guest_env)
    second, stats2 = run_cached(program, tmp_path, guest_env, tmp_path / "s2", ["1"], tiered)
    after = _newest_regions(tmp_path)
    assert second == expected and stats2["regions"] > 0
    assert any(after[pc] > code for pc, code in before.items())
    third, stats3 = run_cached(program, tmp_path, guest_env, tmp_path / "s3", ["1"], tiered)
    assert third == expected and stats3["regions"] == 0


def test_the_cache_s_version_covers_every_source_of_translations():
    """The version key hashes every Python file of the folders that make or run
    translations, subfolders included, and only those: a change to any of them must
    miss the cache that the code before it filled."""
    package = Path(mvvm.__file__).parent
    expected = {str(path) for folder in SOURCES for path in (package / folder).rglob("*.py")}
    assert set(_sources(str(package))) == expected
    assert str(package / "translator" / "translate.py") in expected
    assert not any("/linux/" in path for path in expected)


def test_damaged_cache_is_rebuilt(program, tmp_path, guest_env):
    expected = run_qemu(program, env=guest_env)
    run_cached(program, tmp_path, guest_env, tmp_path / "s1")
    (path,) = cache_files(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    outcome, stats = run_cached(program, tmp_path, guest_env, tmp_path / "s2")
    assert outcome == expected
    assert stats["regions"] > 0                   # the damaged tail was translated again
    third, stats3 = run_cached(program, tmp_path, guest_env, tmp_path / "s3")
    assert third == expected and stats3["regions"] == 0


def test_foreign_file_is_ignored(program, tmp_path, guest_env):
    expected = run_qemu(program, env=guest_env)
    run_cached(program, tmp_path, guest_env, tmp_path / "s1")
    (path,) = cache_files(tmp_path)
    path.write_bytes(b"not a cache at all" * 100)
    outcome, stats = run_cached(program, tmp_path, guest_env, tmp_path / "s2")
    assert outcome == expected and stats["cached_regions"] == 0


def test_no_cache_option_writes_nothing(program, tmp_path, guest_env):
    outcome, stats = run_cached(program, tmp_path, guest_env, tmp_path / "s",
                                options=("--tier", "1", "--no-cache"))
    assert outcome.status == 0 and stats["regions"] > 0
    assert cache_files(tmp_path) == []


def test_concurrent_runs_share_the_cache(program, tmp_path, guest_env):
    expected = run_qemu(program, env=guest_env)
    env = {**guest_env, "XDG_CACHE_HOME": str(tmp_path)}
    argv = [sys.executable, "-m", "mvvm", "run", "--tier", "1", str(program)]
    runs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)]
    for p in runs:
        out, err = p.communicate(timeout=120)
        assert Outcome(out, err, p.returncode) == expected
    outcome, stats = run_cached(program, tmp_path, guest_env, tmp_path / "s")
    assert outcome == expected and stats["regions"] == 0


def _module(engine: wt.Engine) -> wt.Module:
    m = w.Module()
    for index in range(2):
        m.function(m.type((), (w.I64,)), [], w.Code().i64_const(7), export=export_name(index))
    return wt.Module(engine, m.encode())


def _saved_batch(tmp_path: Path, engine: wt.Engine) -> None:
    """A batch of two regions, at 0x1000 (code b"12345678") and 0x2000 (b"abcd")."""
    cache = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    members = [Member(0x1000, [(0x1000, 0x1008)], hasher(b"12345678").digest(),
                      (0x1010, 0x1020)),
               Member(0x2000, [(0x2000, 0x2004)], hasher(b"abcd").digest())]
    cache.add("batch_a", members, _module(engine), TrapMap((10, 20), (0x1000, 0x2000)))
    cache.save()


def _code(changed: int | None = None) -> Callable[[list[tuple[int, int]]], bytes | None]:
    """The guest code of the two regions; the one at `changed` differs from the cache's."""
    def read(ranges: list[tuple[int, int]]) -> bytes | None:
        start = ranges[0][0]
        code = b"12345678" if start == 0x1000 else b"abcd"
        return code + b"!" if start == changed else code
    return read


def test_a_batch_loads_whole_and_once(tmp_path):
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    again = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    loaded = again.lookup(0x2000, _code())
    assert [(m.pc, m.pruned, c.export, c.name) for m, c in loaded] == [
        (0x1000, (0x1010, 0x1020), "r0", "batch_a"), (0x2000, (), "r1", "batch_a")]
    assert loaded[0][1].module is loaded[1][1].module
    assert again.lookup(0x1000, _code()) == []                # already handed out


def test_region_whose_guest_code_changed_is_not_used(tmp_path):
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    again = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    assert [m.pc for m, _ in again.lookup(0x1000, _code(changed=0x1000))] == [0x2000]
    again = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    assert again.lookup(0x1000, lambda ranges: None) == []      # no longer executable
    assert again.lookup(0x3000, _code()) == []


def test_a_region_whose_code_is_not_there_yet_stays_for_a_later_lookup(tmp_path):
    """A batch handed out before the code of some of its regions is mapped (a library's
    regions beside the loader's) keeps those for a later lookup, which finds the code."""
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    again = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    mapped = _code()

    def not_yet(ranges: list[tuple[int, int]]) -> bytes | None:
        return None if ranges[0][0] == 0x2000 else mapped(ranges)

    assert [m.pc for m, _ in again.lookup(0x1000, not_yet)] == [0x1000]
    assert [m.pc for m, _ in again.lookup(0x2000, mapped)] == [0x2000]
    assert again.lookup(0x2000, mapped) == []


def test_a_flush_hands_every_batch_out_again(tmp_path):
    """The translations were flushed (ld.so mapped data over code): every batch can be
    handed out again, its module deserialized once."""
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    again = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    loaded = again.lookup(0x1000, _code())
    assert [m.pc for m, _ in loaded] == [0x1000, 0x2000]
    assert again.lookup(0x2000, _code()) == []
    again.rewind()
    reloaded = again.lookup(0x2000, _code())
    assert [m.pc for m, _ in reloaded] == [0x1000, 0x2000]
    assert reloaded[0][1].module is loaded[0][1].module


def test_a_region_translated_again_replaces_its_older_copy(tmp_path):
    """A later batch's region at an entry is the one installed, even when the earlier
    batch loads for its other regions; a batch whose regions all have later copies is
    dropped when the file is rewritten, which it is once such batches make up half of it
    (batch_a, after batch_c: two regions' worth of the file's three)."""
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    cache = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    mended = Member(0x1000, [(0x1000, 0x1008)], hasher(b"12345678").digest())
    cache.add("batch_b", [mended], _module(engine), TrapMap((10,), (0x1000,)))
    cache.save()
    again = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    assert [(m.pc, c.name) for m, c in again.lookup(0x2000, _code())] == [(0x2000, "batch_a")]
    assert [(m.pc, c.name) for m, c in again.lookup(0x1000, _code())] == [(0x1000, "batch_b")]
    newer = Member(0x2000, [(0x2000, 0x2004)], hasher(b"abcd").digest())
    again.add("batch_c", [newer], _module(engine), TrapMap((10,), (0x2000,)))
    again.save()
    assert set(_batches(again.path, again.root)) == {"batch_b", "batch_c"}


def _another_batch(cache: DiskCache, name: str, pc: int) -> None:
    cache.add(name, [Member(pc, [(pc, pc + 4)], hasher(b"wxyz").digest())],
              _module(cache.engine), TrapMap((10,), (pc,)))


def test_a_save_appends_to_the_file(tmp_path):
    """A run's new batches are appended: the batches earlier runs saved are neither read
    nor written again (cmake -P's 14 MB file took 140 ms to save, rewritten whole)."""
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    path = tmp_path / "image.cache"
    before, inode = path.read_bytes(), path.stat().st_ino
    cache = DiskCache(path, engine, CacheRoot.open(tmp_path))
    _another_batch(cache, "batch_b", 0x3000)
    cache.save()
    assert path.stat().st_ino == inode and path.read_bytes().startswith(before)
    assert set(_batches(path, cache.root)) == {"batch_a", "batch_b"}


def test_a_torn_append_is_cut_off_by_the_next_save(tmp_path):
    """A run that died while appending leaves part of a batch at the end of the file; the
    next run that saves writes the file again, with the intact batches and its own."""
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    path = tmp_path / "image.cache"
    intact = path.read_bytes()
    with path.open("ab") as file:
        file.write(FRAME.pack(1000, bytes(32)) + b"torn")
    cache = DiskCache(path, engine, CacheRoot.open(tmp_path))
    assert set(cache.entries) == {"batch_a"}
    _another_batch(cache, "batch_b", 0x3000)
    cache.save()
    data = path.read_bytes()
    assert data.startswith(intact) and b"torn" not in data
    assert set(_batches(path, cache.root)) == {"batch_a", "batch_b"}


def test_runs_saving_at_once_keep_every_batch(tmp_path):
    """Writers take turns on the file (a lock). The first to have it here finds a torn
    batch at the end and writes the file anew, renaming it over the old one, which the
    others have open and wait on: each then appends to the new file, not the old."""
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    path = tmp_path / "image.cache"
    with path.open("ab") as file:
        file.write(FRAME.pack(1000, bytes(32)) + b"torn")
    caches = [DiskCache(path, engine, CacheRoot.open(tmp_path)) for _ in range(6)]
    for k, cache in enumerate(caches):
        _another_batch(cache, f"batch_{k}", 0x3000 + 0x100 * k)
    threads = [threading.Thread(target=cache.save) for cache in caches]
    with path.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        for thread in threads:
            thread.start()
        time.sleep(0.2)                         # all of them waiting for the lock
    for thread in threads:
        thread.join()
    assert b"torn" not in path.read_bytes()
    assert set(_batches(path, caches[0].root)) == {"batch_a", *(f"batch_{k}" for k in range(6))}


class _Guest:
    """What Image.keep_batch reads of an image: a disk cache, and guest code ("abcd" at
    0x2000) whose reading may come after a flush (flush_first), as when the guest made
    the code writable (and then changed it) after the batch was translated."""

    def __init__(self, disk: DiskCache, flush_first: bool) -> None:
        self.translations, self.disk, self.flush_first = Translations(), disk, flush_first

    def _disk_cache(self) -> DiskCache:
        return self.disk

    def current_code(self, ranges: list[tuple[int, int]]) -> bytes:
        if self.flush_first:
            self.translations.flush()
        return b"abcd"


@pytest.mark.parametrize("flushed", [False, True])
def test_a_batch_translated_before_a_flush_is_not_kept(tmp_path, flushed):
    """A batch is saved with the hashes of the guest bytes read when it is kept, so it is
    kept only if no flush came since its translation (its generation): switchtable's
    region read table1, the guest rewrote the table, and the batch, saved with the new
    table's hash, ran the old one in the next run (exit 91 for 203)."""
    engine = make_engine()
    cache = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    code = SimpleNamespace(entry=0x2000, ranges=[(0x2000, 0x2004)], pruned=set())
    guest = _Guest(cache, flushed)
    Image.keep_batch(guest, "batch_a", [code], _module(engine),
                     TrapMap((10,), (0x2000,)), guest.translations.generation)
    cache.save()
    again = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    assert [m.pc for m, _ in again.lookup(0x2000, _code())] == ([] if flushed else [0x2000])


def test_entries_a_run_ended_without_are_asked_for_at_once_by_the_next(tmp_path):
    """A run saves the entries tier 1 did not deliver before it ended; the next run asks
    for them at their first jumps (Image.cached_entries). One that is still not ready
    then (it runs once, at the end) is given up; and a run that left more than
    MAX_WANTED (a first run) leaves none."""
    engine = make_engine()
    path = tmp_path / "image.cache"

    def run(undelivered: list[int]) -> frozenset[int]:
        disk = DiskCache(path, engine, CacheRoot.open(tmp_path))
        disk.save(undelivered=undelivered)
        return DiskCache(path, engine, CacheRoot.open(tmp_path)).wanted

    assert run([0x1000, 0x2000]) == {0x1000, 0x2000}
    assert run([0x2000, 0x3000]) == {0x3000}              # 0x2000: asked at once in vain
    assert run([0x2000]) == set()                         # given up for good
    assert run([0x4000 + 2 * k for k in range(MAX_WANTED + 1)]) == set()
    assert run([0x5000]) == {0x5000}


def test_a_run_that_tier_1_gave_nothing_holds_it_back_in_the_next(tmp_path):
    """A short run (SHORT_RUN) that asked tier 1 for regions and ended before it published
    any (ninja --version) has the next run's tier 1 wait as long as it lasted, in tenths
    of a second up; a run that published, asked nothing, or ran longer, does not."""
    assert tier1_hold(0, [0x1000], 0.0512) == 0.1
    assert tier1_hold(0, [0x1000], SHORT_RUN + 0.01) == 0.0
    assert tier1_hold(1, [0x1000], 0.0512) == tier1_hold(0, [], 0.0512) == 0.0
    engine = make_engine()
    path = tmp_path / "image.cache"
    DiskCache(path, engine, CacheRoot.open(tmp_path)).save(hold=0.2)
    assert DiskCache(path, engine, CacheRoot.open(tmp_path)).hold == 0.2
    DiskCache(path, engine, CacheRoot.open(tmp_path)).save()
    assert DiskCache(path, engine, CacheRoot.open(tmp_path)).hold == 0.0


def test_the_profile_a_run_saves_joins_the_next_runs():
    """What a warm run translates along: the blocks and jump targets its own tier 0 saw
    and those of the saved profile, which the run's own adds to when it saves."""
    memories = [(ctypes.c_uint8 * PROFILE_SIZE)() for _ in range(2)]     # two VMs' tables
    live, earlier = (ProfileData.at(ctypes.addressof(memory), memory) for memory in memories)
    for profile, block, target in ((live, 0x1000, 0x2000), (earlier, 0x3000, 0x4000)):
        profile.counters[(block >> 1) % len(profile.counters)] = 1
        bucket = (0x5000 >> 1) % len(profile.sources)
        profile.sources[bucket] = 0x5000
        profile.targets[bucket * (len(profile.targets) // len(profile.sources))] = target
    saved = ProfileData.decode(merged(earlier, None))
    for profile in (translator_profile(live, saved),
                    translator_profile(ProfileData.decode(merged(live, saved)), None)):
        assert profile.ran(0x1000) and profile.ran(0x3000) and not profile.ran(0x6000)
        assert set(profile.jumps(0x5000)) == {0x2000, 0x4000}
    assert ProfileData.decode(b"not a profile") is None
    assert ProfileData.decode(zlib.compress(bytes(PROFILE_SIZE - 4))) is None


def test_damaged_core_and_expansion_files_are_rebuilt(program, tmp_path, guest_env):
    """The interpreter's compiled module and its table of compressed expansions are kept
    beside the regions; damaged, they are made again, and the run is the same."""
    expected = run_qemu(program, env=guest_env)
    env = {**guest_env, "XDG_CACHE_HOME": str(tmp_path)}
    assert run_mvvm(program, env=env) == expected
    kept = sorted(tmp_path.glob("mvvm/*/core-*.cwasm")) + sorted(tmp_path.glob("mvvm/*/rvc.bin"))
    assert len(kept) == 2
    for path in kept:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    assert run_mvvm(program, env=env) == expected
    assert run_mvvm(program, env=env) == expected


def _first_entry(data: bytes) -> tuple[int, int]:
    """Where the first batch's seal and body are in a cache file: (seal offset, body size)."""
    size, _ = FRAME.unpack_from(data, len(MAGIC))
    return len(MAGIC) + 4, size


def test_a_planted_entry_is_never_deserialized(program, tmp_path, guest_env):
    """Someone who can write the file changes a module and recomputes its hash: without
    the user's key the seal does not hold, and the region is compiled again."""
    expected = run_qemu(program, env=guest_env)
    run_cached(program, tmp_path, guest_env, tmp_path / "s1")
    (path,) = cache_files(tmp_path)
    data = bytearray(path.read_bytes())
    seal_at, size = _first_entry(bytes(data))
    body_at = seal_at + 32
    data[body_at + size - 100] ^= 0xFF                   # inside the serialized module
    data[seal_at:body_at] = hasher(data[body_at:body_at + size]).digest()
    path.write_bytes(bytes(data))
    outcome, stats = run_cached(program, tmp_path, guest_env, tmp_path / "s2")
    assert outcome == expected and stats["regions"] > 0


def test_a_run_with_its_cache_loads_no_openssl(program, tmp_path, guest_env):
    """The cache's hashes and seals are CPython's own BLAKE2: hashlib and hmac load
    OpenSSL's libcrypto, which cost 4-5 ms of each run's start (hello world's is 80 ms)."""
    probe = ("import sys\nfrom mvvm.cli import main\nstatus = main(sys.argv[1:])\n"
             "print(*sorted({'_hashlib', 'hashlib', 'hmac'} & set(sys.modules)), file=sys.stderr)\n"
             "sys.exit(status)")
    expected = run_qemu(program, env=guest_env)
    env = {**guest_env, "XDG_CACHE_HOME": str(tmp_path)}
    for _ in range(2):          # the first run fills the cache, the second reads it
        done = subprocess.run([sys.executable, "-c", probe, "run", str(program)], env=env,
                              capture_output=True, timeout=120)
        assert (done.returncode, done.stdout) == (expected.status, expected.stdout)
        assert done.stderr.splitlines()[-1:] == [b""], done.stderr


def test_the_key_and_the_root_are_private(program, tmp_path, guest_env):
    run_cached(program, tmp_path, guest_env, tmp_path / "s1")
    root = tmp_path / "mvvm"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "key").stat().st_mode) == 0o600
    assert len((root / "key").read_bytes()) == 32


def test_a_root_others_may_write_is_no_cache(program, tmp_path, guest_env):
    expected = run_qemu(program, env=guest_env)
    run_cached(program, tmp_path, guest_env, tmp_path / "s1")
    (tmp_path / "mvvm").chmod(0o777)
    outcome, stats = run_cached(program, tmp_path, guest_env, tmp_path / "s2")
    assert outcome == expected and stats["cached_regions"] == 0


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_cache_file_that_never_ends_is_ignored(kind, program, tmp_path, guest_env):
    """A FIFO, or a symlink to /dev/zero, in place of the cache file and of the
    interpreter's: the run neither hangs nor grows, and goes as without a cache."""
    expected = run_qemu(program, env=guest_env)
    run_cached(program, tmp_path, guest_env, tmp_path / "s1")
    for path in [*cache_files(tmp_path), *tmp_path.glob("mvvm/*/core-*.cwasm")]:
        path.unlink()
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/zero")
    outcome, stats = run_cached(program, tmp_path, guest_env, tmp_path / "s2")
    assert outcome == expected and stats["cached_regions"] == 0


def test_entries_sealed_under_another_key_are_not_loaded(tmp_path):
    """The same file read with another user's key (another cache root) holds nothing."""
    engine = make_engine()
    _saved_batch(tmp_path, engine)
    mine = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(tmp_path))
    other = tmp_path / "other"
    theirs = DiskCache(tmp_path / "image.cache", engine, CacheRoot.open(other))
    assert mine.path == theirs.path and set(mine.entries) == set(theirs.entries) == {"batch_a"}
    assert mine.lookup(0x1000, _code()) != []
    assert theirs.lookup(0x1000, _code()) == [] and theirs.entries == {}
