/* The Linux syscalls of a riscv64 program, on WASI preview1.
 *
 * Guest file descriptors are WASI's own (0-2 stdio, then the preopened directories, then
 * what the program opens). A guest path is resolved against the preopens: an absolute
 * path by the longest preopen name that is a prefix of it, a relative one against the
 * preopen "." (or "/"), as a program started in that directory sees it.
 *
 * Memory: brk grows up from the end of the program; anonymous mmap takes address space
 * above the brk area, first fit from what munmap gave back, else from the top, and grows
 * the guest memory when it must. Protection is not enforced (wasm has none); PROT_EXEC
 * marks pages executable for the interpreter, which is how code a program writes runs.
 */
#include "shim.h"
#include "syscall_names.h"

enum {
    EPERM = 1, ENOENT = 2, ESRCH = 3, EBADF = 9, ENOMEM = 12, EACCES = 13, EFAULT = 14,
    EINVAL = 22, ENOTTY = 25, ESPIPE = 29, ENOSYS = 38,
};
enum { AT_FDCWD = -100, AT_REMOVEDIR = 0x200, AT_SYMLINK_NOFOLLOW = 0x100 };
enum { PAGE = 4096, WASM_PAGE = 65536 };
enum { MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, PROT_EXEC = 4 };
#define BUFFER 65536

static char buffer[BUFFER];                     /* bounce buffer for guest data */

/* -- WASI preview1 ------------------------------------------------------------------------ */

typedef struct { uint32_t buf, len; } Iovec;
WASI("fd_read") int fd_read(int fd, const Iovec *iovs, int count, uint32_t *done);
WASI("fd_write") int fd_write(int fd, const Iovec *iovs, int count, uint32_t *done);
WASI("fd_pread") int fd_pread(int fd, const Iovec *iovs, int count, uint64_t at, uint32_t *done);
WASI("fd_pwrite") int fd_pwrite(int fd, const Iovec *iovs, int count, uint64_t at,
                                uint32_t *done);
WASI("fd_seek") int fd_seek(int fd, int64_t offset, int whence, uint64_t *position);
WASI("fd_close") int fd_close(int fd);
WASI("fd_filestat_get") int fd_filestat_get(int fd, void *stat);
WASI("fd_fdstat_get") int fd_fdstat_get(int fd, uint64_t fdstat[3]);
WASI("fd_readdir") int fd_readdir(int fd, void *buf, uint32_t length, uint64_t cookie,
                                  uint32_t *used);
WASI("fd_prestat_get") int fd_prestat_get(int fd, uint32_t prestat[2]);
WASI("fd_prestat_dir_name") int fd_prestat_dir_name(int fd, char *name, uint32_t length);
WASI("path_open") int path_open(int fd, uint32_t lookup, const char *path, uint32_t length,
                                uint32_t oflags, uint64_t rights, uint64_t inheriting,
                                uint32_t fdflags, int *opened);
WASI("path_filestat_get") int path_filestat_get(int fd, uint32_t lookup, const char *path,
                                                uint32_t length, void *stat);
WASI("path_create_directory") int path_create_directory(int fd, const char *path, uint32_t n);
WASI("path_unlink_file") int path_unlink_file(int fd, const char *path, uint32_t n);
WASI("path_remove_directory") int path_remove_directory(int fd, const char *path, uint32_t n);
WASI("path_rename") int path_rename(int fd, const char *old, uint32_t old_length, int new_fd,
                                    const char *new, uint32_t new_length);
WASI("clock_time_get") int clock_time_get(uint32_t id, uint64_t precision, uint64_t *time);
WASI("clock_res_get") int clock_res_get(uint32_t id, uint64_t *resolution);
WASI("random_get") int random_get(void *buf, uint32_t length);
WASI("poll_oneoff") int poll_oneoff(const void *in, void *out, uint32_t count, uint32_t *events);
WASI("sched_yield") int sched_yield(void);
WASI("proc_exit") _Noreturn void proc_exit(uint32_t status);

/* WASI's errno values, by number, as Linux's. */
static const uint8_t LINUX_ERRNO[] = {
    0, 7, 13, 98, 99, 97, 11, 114, 9, 74, 16, 125, 10, 103, 111, 104, 35, 89, 33, 122, 17,
    14, 27, 113, 43, 84, 115, 4, 22, 5, 106, 21, 40, 24, 31, 90, 72, 36, 100, 102, 101, 23,
    105, 19, 2, 8, 37, 67, 12, 42, 92, 28, 38, 107, 20, 39, 131, 88, 95, 25, 6, 75, 130, 1,
    32, 71, 93, 91, 34, 30, 29, 3, 116, 110, 26, 18, 13,
};

static int64_t from_wasi(int error) {
    return error > 0 && error < (int)sizeof LINUX_ERRNO ? -LINUX_ERRNO[error] : -EINVAL;
}

/* -- small helpers -------------------------------------------------------------------------- */

static uint32_t length_of(const char *s) {
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

static int same(const char *a, const char *b, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static void write_text(int fd, const char *text, uint32_t length) {
    Iovec iov = {(uint32_t)text, length};
    uint32_t done;
    fd_write(fd, &iov, 1, &done);
}

/* Text on the host's stderr: the module's own messages. */
static void say(const char *text) { write_text(2, text, length_of(text)); }

static void say_number(int64_t value) {
    char digits[24], *p = digits + sizeof digits;
    uint64_t magnitude = value < 0 ? -(uint64_t)value : (uint64_t)value;
    *--p = 0;
    do
        *--p = (char)('0' + magnitude % 10);
    while (magnitude /= 10);
    if (value < 0)
        *--p = '-';
    say(p);
}

static void say_hex(uint64_t value) {
    char digits[20], *p = digits + sizeof digits;
    *--p = 0;
    do
        *--p = "0123456789abcdef"[value & 15];
    while (value >>= 4);
    *--p = 'x';
    *--p = '0';
    say(p);
}

static int32_t final_status = -1;

/* The status the program ended with, for a runner to read after proc_exit: wasmtime
 * refuses statuses of 126 and above (a death by a signal is 128 + its number) with a trap
 * instead of exiting; the instance is still there to ask. */
EXPORT("exit_status") int32_t exit_status(void) { return final_status; }

static _Noreturn void terminate(int status) {
    final_status = status & 0xff;
    proc_exit((uint32_t)final_status);
}

/* The guest memory offset of [address, address + length), or -1 when not all of it is
 * backed: the syscall then fails with EFAULT, as Linux's would. */
static int64_t guest_span(uint64_t address, uint64_t length) {
    uint64_t size = (uint64_t)guest_pages() * WASM_PAGE;
    if (address < BIAS || length > size || address - BIAS > size - length)
        return -1;
    return (int64_t)(address - BIAS);
}

static int copy_in(void *to, uint64_t address, uint64_t length) {
    int64_t at = guest_span(address, length);
    if (at < 0)
        return -EFAULT;
    guest_read(to, (uint32_t)at, (uint32_t)length);
    return 0;
}

static int copy_out(uint64_t address, const void *from, uint64_t length) {
    int64_t at = guest_span(address, length);
    if (at < 0)
        return -EFAULT;
    guest_write((uint32_t)at, from, (uint32_t)length);
    return 0;
}

static int64_t load64(uint64_t address, int *error) {
    int64_t value = 0;
    *error = copy_in(&value, address, 8) < 0 || *error;
    return value;
}

/* A guest C string into `to` (at most size bytes with its NUL). */
static int64_t copy_string(char *to, uint64_t address, uint32_t size) {
    for (uint32_t i = 0; i < size; i++) {
        if (copy_in(to + i, address + i, 1) < 0)
            return -EFAULT;
        if (!to[i])
            return i;
    }
    return -36;                                 /* ENAMETOOLONG */
}

/* -- paths ---------------------------------------------------------------------------------- */

typedef struct {
    int fd;
    char name[256];
    uint32_t length;
} Preopen;

static Preopen preopens[16];
static int preopen_count;

static void find_preopens(void) {
    for (int fd = 3; preopen_count < 16; fd++) {
        uint32_t prestat[2];
        if (fd_prestat_get(fd, prestat) != 0)
            break;
        Preopen *p = &preopens[preopen_count];
        if (prestat[0] != 0 || prestat[1] >= sizeof p->name)
            continue;
        fd_prestat_dir_name(fd, p->name, prestat[1]);
        p->name[prestat[1]] = 0;
        while (prestat[1] > 1 && p->name[prestat[1] - 1] == '/')
            p->name[--prestat[1]] = 0;           /* "dir/" as "dir" */
        p->fd = fd;
        p->length = prestat[1];
        preopen_count++;
    }
}

typedef struct {
    int fd;                                     /* a WASI directory descriptor */
    const char *path;                           /* relative to it */
} Where;

/* The preopen that holds an absolute path, and the rest of the path below it. */
static int beneath_preopen(const char *path, Where *where) {
    int best = -1;
    uint32_t best_length = 0;
    for (int i = 0; i < preopen_count; i++) {
        Preopen *p = &preopens[i];
        const char *name = p->name;
        uint32_t n = p->length;
        if (name[0] == '.' && n == 1)
            continue;
        if (name[0] != '/') {                   /* "tmp" stands for "/tmp" */
            if (!same(path + 1, name, n) || (path[1 + n] && path[1 + n] != '/'))
                continue;
            n += 1;
        } else if (n == 1) {
            n = 0;
        } else if (!same(path, name, n) || (path[n] && path[n] != '/')) {
            continue;
        }
        if (best < 0 || n > best_length) {
            best = p->fd;
            best_length = n;
        }
    }
    if (best < 0)
        return -ENOENT;
    path += best_length;
    while (*path == '/')
        path++;
    where->fd = best;
    where->path = *path ? path : ".";
    return 0;
}

static char joined[4097];

/* Where a guest path (dirfd, path) is for WASI: a relative one is under the preopen "."
 * (the program's current directory), else under "/". */
static int locate(int64_t dirfd, const char *path, Where *where) {
    if (!path[0])
        return -ENOENT;
    if (path[0] == '/')
        return beneath_preopen(path, where);
    if ((int)dirfd != AT_FDCWD) {
        where->fd = (int)dirfd;
        where->path = path;
        return 0;
    }
    for (int i = 0; i < preopen_count; i++)
        if (preopens[i].length == 1 && preopens[i].name[0] == '.') {
            where->fd = preopens[i].fd;
            where->path = path;
            return 0;
        }
    joined[0] = '/';
    for (uint32_t i = 0; (joined[1 + i] = path[i]); i++) {}
    return beneath_preopen(joined, where);
}

static char path_a[4096], path_b[4096];

static int guest_path(int64_t dirfd, uint64_t address, char *into, Where *where) {
    int64_t n = copy_string(into, address, sizeof path_a);
    return n < 0 ? (int)n : locate(dirfd, into, where);
}

/* -- files ---------------------------------------------------------------------------------- */

enum { O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200, O_TRUNC = 01000,
       O_APPEND = 02000, O_NONBLOCK = 04000, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000 };
/* WASI rights that reading or writing needs (fd_read, fd_readdir; fd_datasync, fd_write,
 * fd_allocate, fd_filestat_set_size); a descriptor gets every other right its directory
 * passes on, as wasi-libc's open does (runtimes such as Node's refuse more). */
static const uint64_t READ_RIGHTS = 1 << 1 | 1 << 14;
static const uint64_t WRITE_RIGHTS = 1 << 0 | 1 << 6 | 1 << 8 | 1 << 22;

static int64_t sys_openat(int64_t dirfd, uint64_t address, int64_t flags) {
    Where where;
    uint64_t fdstat[3];
    int error = guest_path(dirfd, address, path_a, &where), fd;
    if (error)
        return error;
    if ((error = fd_fdstat_get(where.fd, fdstat)))
        return from_wasi(error);
    uint64_t inheriting = fdstat[2], rights = ~(READ_RIGHTS | WRITE_RIGHTS);
    if ((flags & 3) != O_WRONLY)
        rights |= READ_RIGHTS;
    if (flags & (O_WRONLY | O_RDWR))
        rights |= WRITE_RIGHTS;
    uint32_t oflags = (flags & O_CREAT ? 1 : 0) | (flags & O_DIRECTORY ? 2 : 0)
                      | (flags & O_EXCL ? 4 : 0) | (flags & O_TRUNC ? 8 : 0);
    uint32_t fdflags = (flags & O_APPEND ? 1 : 0) | (flags & O_NONBLOCK ? 4 : 0);
    error = path_open(where.fd, flags & O_NOFOLLOW ? 0 : 1, where.path, length_of(where.path),
                      oflags, rights & inheriting, inheriting, fdflags, &fd);
    return error ? from_wasi(error) : fd;
}

static int64_t broken_pipe(void);

/* Move guest data through the bounce buffer, one chunk per WASI call. A short transfer
 * ends the syscall, as it would on Linux. */
static int64_t transfer(int fd, uint64_t address, uint64_t length, int writing, int64_t at) {
    uint64_t total = 0;
    while (total < length || length == 0) {
        uint32_t chunk = length - total > BUFFER ? BUFFER : (uint32_t)(length - total);
        if (writing && copy_in(buffer, address + total, chunk) < 0)
            return total ? (int64_t)total : -EFAULT;
        if (!writing && guest_span(address + total, chunk) < 0)
            return total ? (int64_t)total : -EFAULT;
        Iovec iov = {(uint32_t)buffer, chunk};
        uint32_t done = 0;
        int error;
        if (at < 0)
            error = writing ? fd_write(fd, &iov, 1, &done) : fd_read(fd, &iov, 1, &done);
        else
            error = writing ? fd_pwrite(fd, &iov, 1, (uint64_t)at + total, &done)
                            : fd_pread(fd, &iov, 1, (uint64_t)at + total, &done);
        if (error == 76)                        /* notcapable: not open for this */
            return total ? (int64_t)total : -EBADF;
        if (error == 64 && writing)             /* a pipe nobody reads */
            return total ? (int64_t)total : broken_pipe();
        if (error)
            return total ? (int64_t)total : from_wasi(error);
        if (!writing)
            copy_out(address + total, buffer, done);
        total += done;
        if (done < chunk || length == 0)
            break;
    }
    return (int64_t)total;
}

static int64_t vectored(int fd, uint64_t iov, int64_t count, int writing, int64_t at) {
    if (count < 0 || count > 1024)
        return -EINVAL;
    int64_t total = 0;
    for (int64_t i = 0; i < count; i++) {
        int error = 0;
        uint64_t base = (uint64_t)load64(iov + 16 * i, &error);
        uint64_t length = (uint64_t)load64(iov + 16 * i + 8, &error);
        if (error)
            return total ? total : -EFAULT;
        if (length == 0)
            continue;                           /* Linux never looks at an empty buffer */
        int64_t done = transfer(fd, base, length, writing, at < 0 ? -1 : at + total);
        if (done < 0)
            return total ? total : done;
        total += done;
        if ((uint64_t)done < length)
            break;
    }
    return total;
}

/* WASI's filestat (64 bytes) as Linux's struct stat (128 bytes on riscv64). */
static int64_t put_stat(uint64_t address, const uint64_t *f) {
    static const uint32_t MODES[] = {0, 0060000, 0020000, 0040000, 0100000, 0140000,
                                     0140000, 0120000};
    uint8_t type = (uint8_t)f[2];
    uint32_t mode = (type < 8 ? MODES[type] : 0) | (type == 3 ? 0755 : 0644);
    uint64_t st[16] = {0};
    st[0] = f[0];                               /* st_dev */
    st[1] = f[1];                               /* st_ino */
    st[2] = mode | f[3] << 32;                  /* st_mode, st_nlink */
    st[6] = f[4];                               /* st_size */
    st[7] = 4096;                               /* st_blksize */
    st[8] = (f[4] + 511) / 512;                 /* st_blocks */
    for (int i = 0; i < 3; i++) {               /* atime, mtime, ctime */
        st[9 + 2 * i] = f[5 + i] / 1000000000;
        st[10 + 2 * i] = f[5 + i] % 1000000000;
    }
    return copy_out(address, st, sizeof st);
}

static int64_t sys_fstat(int64_t fd, uint64_t address) {
    uint64_t f[8];
    int error = fd_filestat_get((int)fd, f);
    return error ? from_wasi(error) : put_stat(address, f);
}

/* WASI's filestat of a guest path into f (following a last symlink or not); the guest
 * path is copied into `into`. 0 or -errno. */
static int64_t path_stat(int64_t dirfd, uint64_t path, char *into, int follow, uint64_t f[8]) {
    Where where;
    int error = guest_path(dirfd, path, into, &where);
    if (error)
        return error;
    error = path_filestat_get(where.fd, follow ? 1 : 0, where.path, length_of(where.path), f);
    return error ? from_wasi(error) : 0;
}

static int64_t sys_newfstatat(int64_t dirfd, uint64_t path, uint64_t address, int64_t flags) {
    uint64_t f[8];
    if (flags & 0x1000) {                       /* AT_EMPTY_PATH */
        char first;
        if (copy_in(&first, path, 1) == 0 && first == 0)
            return sys_fstat(dirfd, address);
    }
    int64_t error = path_stat(dirfd, path, path_a, !(flags & AT_SYMLINK_NOFOLLOW), f);
    return error ? error : put_stat(address, f);
}

/* Directory reads go on from a cookie per descriptor (WASI has no directory offset). */
static uint64_t cookies[256];

static int64_t sys_getdents64(int64_t fd, uint64_t address, uint64_t length) {
    static const uint8_t DT[] = {0, 6, 2, 4, 8, 12, 12, 10};
    static char entries[4096];
    if (fd < 0 || fd >= 256)
        return -EBADF;
    uint64_t written = 0;
    for (;;) {
        uint32_t used;
        int error = fd_readdir((int)fd, entries, sizeof entries, cookies[fd], &used);
        if (error)
            return written ? (int64_t)written : from_wasi(error);
        uint32_t at = 0;
        while (at + 24 <= used) {
            uint64_t next, inode;
            uint32_t name_length;
            __builtin_memcpy(&next, entries + at, 8);
            __builtin_memcpy(&inode, entries + at + 8, 8);
            __builtin_memcpy(&name_length, entries + at + 16, 4);
            uint8_t type = (uint8_t)entries[at + 20];
            if (at + 24 + name_length > used)
                break;                          /* cut off: read again from its cookie */
            uint32_t record = (19 + name_length + 1 + 7) & ~7u;
            if (written + record > length)
                return written ? (int64_t)written : -EINVAL;
            char head[19];
            uint64_t offset = next;
            if (inode == 0)
                inode = next;                   /* some runtimes give none; 0 is skipped */
            uint16_t reclen = (uint16_t)record;
            __builtin_memcpy(head, &inode, 8);
            __builtin_memcpy(head + 8, &offset, 8);
            __builtin_memcpy(head + 16, &reclen, 2);
            head[18] = (char)(type < 8 ? DT[type] : 0);
            if (copy_out(address + written, head, 19) < 0 ||
                copy_out(address + written + 19, entries + at + 24, name_length) < 0)
                return -EFAULT;
            guest_fill((uint32_t)(address + written + 19 + name_length - BIAS), 0,
                       record - 19 - name_length);
            written += record;
            cookies[fd] = next;
            at += 24 + name_length;
        }
        if (used < sizeof entries)
            return (int64_t)written;             /* the end of the directory */
        if (at == 0)
            return -EINVAL;                     /* one name longer than the buffer */
    }
}

static int64_t sys_lseek(int64_t fd, int64_t offset, int64_t whence) {
    uint64_t position;
    if (whence < 0 || whence > 2)
        return -EINVAL;
    if (fd >= 0 && fd < 256 && whence == 0 && offset == 0)
        cookies[fd] = 0;                        /* rewinddir */
    int error = fd_seek((int)fd, offset, (int)whence, &position);
    return error ? from_wasi(error) : (int64_t)position;
}

static int64_t sys_path(int number, int64_t dirfd, uint64_t path, int64_t flags) {
    Where where;
    int error = guest_path(dirfd, path, path_a, &where);
    if (error)
        return error;
    uint32_t n = length_of(where.path);
    if (number == SYS_mkdirat)
        error = path_create_directory(where.fd, where.path, n);
    else if (flags & AT_REMOVEDIR)
        error = path_remove_directory(where.fd, where.path, n);
    else
        error = path_unlink_file(where.fd, where.path, n);
    return error ? from_wasi(error) : 0;
}

static int64_t sys_renameat(int64_t old_dir, uint64_t old, int64_t new_dir, uint64_t new) {
    Where from, to;
    int error = guest_path(old_dir, old, path_a, &from);
    if (!error)
        error = guest_path(new_dir, new, path_b, &to);
    if (error)
        return error;
    error = path_rename(from.fd, from.path, length_of(from.path), to.fd, to.path,
                        length_of(to.path));
    return error ? from_wasi(error) : 0;
}

static int64_t sys_faccessat(int64_t dirfd, uint64_t path) {
    uint64_t f[8];
    return path_stat(dirfd, path, path_a, 1, f);
}

/* -- memory --------------------------------------------------------------------------------- */

static uint64_t brk_start, brk_now, brk_limit, mmap_top;
typedef struct { uint64_t start, end; } Range;
static Range holes[1024];                       /* address space munmap gave back */
static int hole_count;

/* Make guest addresses up to end backed by the guest memory. */
static int back(uint64_t end) {
    uint64_t have = (uint64_t)guest_pages() * WASM_PAGE + BIAS;
    if (end <= have)
        return 0;
    uint64_t pages = (end - have + WASM_PAGE - 1) / WASM_PAGE;
    return guest_grow((uint32_t)pages) < 0 ? -ENOMEM : 0;
}

static void mark_executable(uint64_t start, uint64_t end) {
    for (uint64_t page = start / PAGE; page < (end + PAGE - 1) / PAGE; page++) {
        uint32_t at = VM_EXEC + (uint32_t)(page >> 3);
        vm_set32(at, vm_get32(at) | 1u << (page & 7));
    }
}

static int64_t sys_brk(uint64_t address) {
    if (address < brk_start || address > brk_limit)
        return (int64_t)brk_now;
    if (back(address) < 0)
        return (int64_t)brk_now;
    if (address > brk_now)
        guest_fill((uint32_t)(brk_now - BIAS), 0, (uint32_t)(address - brk_now));
    brk_now = address;
    return (int64_t)brk_now;
}

static uint64_t take_space(uint64_t length) {
    for (int i = 0; i < hole_count; i++) {
        Range *h = &holes[i];
        if (h->end - h->start >= length) {
            uint64_t start = h->start;
            h->start += length;
            if (h->start == h->end)
                holes[i] = holes[--hole_count];
            return start;
        }
    }
    if (back(mmap_top + length) < 0)
        return 0;
    uint64_t start = mmap_top;
    mmap_top += length;
    return start;
}

static int64_t sys_munmap(uint64_t address, uint64_t length) {
    length = (length + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    if (address & (PAGE - 1) || length == 0)
        return -EINVAL;
    if (address < brk_limit || address + length > mmap_top)
        return 0;                               /* not ours to give back */
    if (address + length == mmap_top)
        mmap_top = address;
    else if (hole_count < 1024)
        holes[hole_count++] = (Range){address, address + length};
    return 0;
}

static int64_t sys_mmap(uint64_t address, uint64_t length, int64_t prot, int64_t flags,
                        int64_t fd, int64_t offset) {
    length = (length + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    if (length == 0 || length >= (1ull << 32) || (offset & (PAGE - 1)))
        return -EINVAL;
    uint64_t start;
    if (flags & MAP_FIXED) {
        if (address & (PAGE - 1) || guest_span(address, length) < 0)
            return -ENOMEM;
        start = address;
    } else if (!(start = take_space(length))) {
        return -ENOMEM;
    }
    guest_fill((uint32_t)(start - BIAS), 0, (uint32_t)length);
    if (!(flags & MAP_ANONYMOUS)) {
        int64_t read = transfer((int)fd, start, length, 0, offset);
        if (read < 0) {
            sys_munmap(start, length);
            return read;
        }
    }
    if (prot & PROT_EXEC)
        mark_executable(start, start + length);
    return (int64_t)start;
}

static int64_t sys_mprotect(uint64_t address, uint64_t length, int64_t prot) {
    if (address & (PAGE - 1))
        return -EINVAL;
    if (prot & PROT_EXEC)
        mark_executable(address, address + length);
    return 0;
}

/* -- time ----------------------------------------------------------------------------------- */

/* Linux clock ids as WASI's: realtime; everything else as monotonic; CPU times as such. */
static uint32_t wasi_clock(int64_t clock) {
    switch (clock) {
    case 0: case 5: case 8: return 0;           /* REALTIME(_COARSE), _ALARM */
    case 2: return 2;                           /* PROCESS_CPUTIME_ID */
    case 3: return 3;                           /* THREAD_CPUTIME_ID */
    default: return 1;
    }
}

static int64_t sys_clock_gettime(int64_t clock, uint64_t address) {
    uint64_t now;
    int error = clock_time_get(wasi_clock(clock), 1, &now);
    if (error)
        return from_wasi(error);
    uint64_t ts[2] = {now / 1000000000, now % 1000000000};
    return copy_out(address, ts, 16);
}

static int64_t sys_clock_getres(int64_t clock, uint64_t address) {
    uint64_t resolution;
    int error = clock_res_get(wasi_clock(clock), &resolution);
    if (error)
        return from_wasi(error);
    uint64_t ts[2] = {resolution / 1000000000, resolution % 1000000000};
    return address ? copy_out(address, ts, 16) : 0;
}

static int64_t sys_gettimeofday(uint64_t address) {
    uint64_t now;
    clock_time_get(0, 1000, &now);
    uint64_t tv[2] = {now / 1000000000, now % 1000000000 / 1000};
    return address ? copy_out(address, tv, 16) : 0;
}

static int64_t sleep_for(uint64_t address) {
    int64_t ts[2];
    if (copy_in(ts, address, 16) < 0)
        return -EFAULT;
    if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000)
        return -EINVAL;
    uint64_t subscription[6] = {0}, event[4];
    uint32_t events;
    subscription[2] = 1;                        /* the monotonic clock */
    subscription[3] = (uint64_t)ts[0] * 1000000000 + (uint64_t)ts[1];
    return from_wasi(poll_oneoff(subscription, event, 1, &events));
}

/* -- identity, signals, limits -------------------------------------------------------------- */

static int64_t sys_uname(uint64_t address) {
    static const char *FIELDS[6] = {"Linux", "mvvm", "6.1.0", "#1 SMP mvvm wasm", "riscv64",
                                    "(none)"};
    static char uts[6 * 65];
    for (int i = 0; i < 6; i++)
        for (uint32_t j = 0; j < 65; j++)
            uts[65 * i + j] = j < length_of(FIELDS[i]) ? FIELDS[i][j] : 0;
    return copy_out(address, uts, sizeof uts);
}

static uint64_t actions[65][3];                 /* rt_sigaction's records: never delivered */

static int64_t sys_rt_sigaction(int64_t signal, uint64_t act, uint64_t old) {
    if (signal < 1 || signal > 64 || signal == 9 || signal == 19)
        return -EINVAL;
    if (old && copy_out(old, actions[signal], 24) < 0)
        return -EFAULT;
    if (act && copy_in(actions[signal], act, 24) < 0)
        return -EFAULT;
    return 0;
}

static uint64_t blocked;

static int64_t sys_rt_sigprocmask(int64_t how, uint64_t set, uint64_t old) {
    uint64_t mask;
    if (old && copy_out(old, &blocked, 8) < 0)
        return -EFAULT;
    if (!set)
        return 0;
    if (copy_in(&mask, set, 8) < 0)
        return -EFAULT;
    if (how == 0)
        blocked |= mask;
    else if (how == 1)
        blocked &= ~mask;
    else if (how == 2)
        blocked = mask;
    else
        return -EINVAL;
    return 0;
}

/* A signal sent to the program itself: its default action, as if it had no handler (the
 * module delivers none). Most end the program with 128 + the signal, as a shell shows. */
static int64_t raise_signal(int64_t signal) {
    static const char *NAMES[] = {0, "Hangup", 0, "Quit", "Illegal instruction",
                                  "Trace/breakpoint trap", "Aborted", "Bus error",
                                  "Floating point exception", "Killed", 0,
                                  "Segmentation fault"};
    if (signal == 0 || signal == 17 || signal == 23 || signal == 28)
        return 0;                               /* 0, SIGCHLD, SIGURG, SIGWINCH: ignored */
    if (signal < 1 || signal > 64)
        return -EINVAL;
    if (signal < 12 && NAMES[signal]) {
        say(NAMES[signal]);
        say("\n");
    }
    terminate(128 + (int)signal);
}

/* A write to a pipe with no reader: SIGPIPE, whose default action ends the program
 * silently (status 141); ignored, the write fails with EPIPE. */
static int64_t broken_pipe(void) {
    if (actions[13][0] == 1)                    /* SIG_IGN */
        return -32;
    return raise_signal(13);
}

/* What a WASI module cannot do: a new process or thread. ENOSYS, and a line on stderr
 * (the first time), since a program seldom says why it failed. */
static int64_t unavailable(const char *what) {
    static int said;
    if (!said++) {
        say("mvvm: ");
        say(what);
        say(" is not available in a WebAssembly module: ENOSYS\n");
    }
    return -ENOSYS;
}

static int64_t sys_prlimit64(int64_t pid, int64_t resource, uint64_t limit, uint64_t old) {
    if (pid != 0 && pid != 1)
        return -ESRCH;
    if (resource < 0 || resource > 15)
        return -EINVAL;
    uint64_t values[2] = {~0ull, ~0ull};
    if (resource == 3)                          /* RLIMIT_STACK */
        values[0] = values[1] = config(CONFIG_STACK_SIZE);
    else if (resource == 7)                     /* RLIMIT_NOFILE */
        values[0] = values[1] = 1024;
    if (old && copy_out(old, values, 16) < 0)
        return -EFAULT;
    return limit ? -EPERM : 0;
}

/* F_GETFL from what WASI says of the descriptor: its rights and flags. */
static int64_t sys_fcntl(int64_t fd, int64_t command) {
    uint64_t fdstat[3];
    int error = fd_fdstat_get((int)fd, fdstat);
    if (error)
        return from_wasi(error);
    uint64_t rights = fdstat[1], flags = fdstat[0] >> 16 & 0xffff;
    int readable = (rights & 1 << 1) != 0, writable = (rights & 1 << 6) != 0;
    switch (command) {
    case 1: case 2: return 0;                   /* F_GETFD, F_SETFD */
    case 3:                                     /* F_GETFL */
        return (readable && writable ? O_RDWR : writable ? O_WRONLY : 0)
               | (flags & 1 ? O_APPEND : 0) | (flags & 4 ? O_NONBLOCK : 0);
    case 4: return 0;                           /* F_SETFL */
    default: return -EINVAL;
    }
}

static int64_t sys_ioctl(int64_t fd, int64_t request) {
    uint64_t f[8];
    if (fd_filestat_get((int)fd, f) == 8)
        return -EBADF;
    (void)request;
    return -ENOTTY;                             /* no terminals: TCGETS and the rest */
}

static int64_t sys_getrandom(uint64_t address, uint64_t length) {
    uint64_t done = 0;
    while (done < length) {
        uint32_t chunk = length - done > BUFFER ? BUFFER : (uint32_t)(length - done);
        random_get(buffer, chunk);
        if (copy_out(address + done, buffer, chunk) < 0)
            return done ? (int64_t)done : -EFAULT;
        done += chunk;
    }
    return (int64_t)done;
}

/* --strace: "1 name(a0,a1,a2) = result" after the call (qemu's -strace lines start with
 * the pid too); a call that never returns (exit) shows before, with no result. */
static void trace_call(int64_t number, const uint64_t a[6]) {
    const char *name = number >= 0 && number < SYSCALL_NAMES ? syscall_names[number] : 0;
    say("1 ");
    if (name) {
        say(name);
    } else {
        say("syscall ");
        say_number(number);
    }
    say("(");
    for (int i = 0; i < 3; i++) {
        say_number((int64_t)a[i]);
        say(i < 2 ? "," : ")");
    }
}

static void trace_result(int64_t result) {
    say(" = ");
    say_number(result);
    say("\n");
}

/* -- the table ------------------------------------------------------------------------------ */

/* The Linux syscall n with arguments a0..a5: its result, or -errno. */
static int64_t linux_syscall(int64_t n, const uint64_t a[6]) {
    int64_t fd = (int64_t)(int32_t)a[0];
    switch (n) {
    case SYS_fcntl: return sys_fcntl(fd, (int32_t)a[1]);
    case SYS_ioctl: return sys_ioctl(fd, (uint32_t)a[1]);
    case SYS_mkdirat: return sys_path(SYS_mkdirat, fd, a[1], 0);
    case SYS_unlinkat: return sys_path(SYS_unlinkat, fd, a[1], (int32_t)a[2]);
    case SYS_renameat2: return a[4] ? -EINVAL : sys_renameat(fd, a[1], (int32_t)a[2], a[3]);
    case SYS_faccessat: return sys_faccessat(fd, a[1]);
    case SYS_openat: return sys_openat(fd, a[1], (int32_t)a[2]);
    case SYS_close:
        if (fd >= 0 && fd < 256)
            cookies[fd] = 0;
        return fd_close((int)fd) ? -EBADF : 0;
    case SYS_getdents64: return sys_getdents64(fd, a[1], a[2]);
    case SYS_lseek: return sys_lseek(fd, (int64_t)a[1], (int32_t)a[2]);
    case SYS_read: return transfer((int)fd, a[1], a[2], 0, -1);
    case SYS_write: return transfer((int)fd, a[1], a[2], 1, -1);
    case SYS_readv: return vectored((int)fd, a[1], (int64_t)a[2], 0, -1);
    case SYS_writev: return vectored((int)fd, a[1], (int64_t)a[2], 1, -1);
    case SYS_pread64: return (int64_t)a[3] < 0 ? -EINVAL : transfer((int)fd, a[1], a[2], 0, a[3]);
    case SYS_pwrite64: return (int64_t)a[3] < 0 ? -EINVAL : transfer((int)fd, a[1], a[2], 1, a[3]);
    case SYS_readlinkat: return -EINVAL;        /* WASI links are not read */
    case SYS_newfstatat: return sys_newfstatat(fd, a[1], a[2], (int32_t)a[3]);
    case SYS_fstat: return sys_fstat(fd, a[1]);
    case SYS_exit: case SYS_exit_group:
        if (config(CONFIG_STRACE)) {
            trace_call(n, a);
            say("\n");
        }
        terminate((int)a[0]);
    case SYS_set_tid_address: return 1;         /* the one thread's tid */
    case SYS_futex: return 0;                   /* one thread never waits */
    case SYS_set_robust_list: return 0;
    case SYS_nanosleep: return sleep_for(a[0]);
    case SYS_clock_gettime: return sys_clock_gettime((int32_t)a[0], a[1]);
    case SYS_clock_getres: return sys_clock_getres((int32_t)a[0], a[1]);
    case SYS_clock_nanosleep:                   /* relative sleeps only */
        return a[1] & 1 ? -EINVAL : sleep_for(a[2]);
    case SYS_sched_yield: return sched_yield() ? -EINVAL : 0;
    case SYS_kill: case SYS_tgkill:             /* (pid, sig), (pid, tid, sig) */
        if ((int64_t)a[0] != 1 && (int64_t)a[0] != 0)
            return -ESRCH;
        return raise_signal((int32_t)a[n == SYS_kill ? 1 : 2]);
    case SYS_tkill: return raise_signal((int32_t)a[1]);
    case SYS_rt_sigaction: return sys_rt_sigaction((int32_t)a[0], a[1], a[2]);
    case SYS_rt_sigprocmask: return sys_rt_sigprocmask((int32_t)a[0], a[1], a[2]);
    case SYS_uname: return sys_uname(a[0]);
    case SYS_gettimeofday: return sys_gettimeofday(a[0]);
    case SYS_getpid: case SYS_gettid: return 1;
    case SYS_getppid: return 0;
    case SYS_getuid: case SYS_geteuid: case SYS_getgid: case SYS_getegid:
        return 0;                               /* root */
    case SYS_brk: return sys_brk(a[0]);
    case SYS_clone: case SYS_clone3: return unavailable("a new process or thread (clone)");
    case SYS_execve: case SYS_execveat: return unavailable("running another program (execve)");
    case SYS_munmap: return sys_munmap(a[0], a[1]);
    case SYS_mmap: return sys_mmap(a[0], a[1], (int32_t)a[2], (int32_t)a[3], (int32_t)a[4], a[5]);
    case SYS_mprotect: return sys_mprotect(a[0], a[1], (int32_t)a[2]);
    case SYS_madvise: return 0;                 /* advice taken */
    case SYS_riscv_flush_icache: return 0;      /* see syscall() */
    case SYS_prlimit64: return sys_prlimit64((int32_t)a[0], (int32_t)a[1], a[2], a[3]);
    case SYS_getrandom: return sys_getrandom(a[0], a[1]);
    default: return -ENOSYS;
    }
}

/* The guest says code in [start, end) may have changed (riscv_flush_icache, or mprotect
 * making it executable): where that is the program's own code, which the module holds
 * translated, only the interpreter runs from now on; code written elsewhere (a JIT's)
 * the interpreter reads afresh anyway. (A range of 0, 0 is "all of it", as fence.i.) */
static void code_changed(uint64_t start, uint64_t end) {
    int all = start == 0 && end == 0;
    if (all || (start < config(CONFIG_CODE_END) && end > config(CONFIG_CODE_START)))
        vm_set32(VM_TIER0_ONLY, 1);
}

/* The host call of translated code and of the interpreter: the syscall in the VM state.
 * A non-zero result would make the dispatcher come back to _start; nothing needs that. */
EXPORT("syscall") int32_t syscall(void) {
    uint64_t a[6];
    for (int i = 0; i < 6; i++)
        a[i] = vm_get(VM_X + 8 * (10 + i));
    int64_t number = (int64_t)vm_get(VM_X + 8 * 17);
    int64_t result = linux_syscall(number, a);
    if (config(CONFIG_STRACE)) {
        trace_call(number, a);
        trace_result(result);
    }
    if (number == SYS_riscv_flush_icache || (number == SYS_mprotect && (a[2] & PROT_EXEC)))
        code_changed(a[0], number == SYS_riscv_flush_icache ? a[1] : a[0] + a[1]);
    vm_set(VM_X + 8 * 10, (uint64_t)result);
    return 0;
}

/* -- start-up ------------------------------------------------------------------------------- */

WASI("args_sizes_get") int args_sizes_get(uint32_t *count, uint32_t *size);
WASI("args_get") int args_get(char **pointers, char *strings);
WASI("environ_sizes_get") int environ_sizes_get(uint32_t *count, uint32_t *size);
WASI("environ_get") int environ_get(char **pointers, char *strings);

static char *strings_area[2][4096];
static char strings[2][BUFFER];

/* Copy n strings to the guest stack, below top; their guest addresses into addresses. */
static uint64_t push_strings(uint64_t top, char **from, uint32_t n, uint64_t *addresses) {
    for (uint32_t i = n; i-- > 0;) {
        uint32_t size = length_of(from[i]) + 1;
        top -= size;
        copy_out(top, from[i], size);
        addresses[i] = top;
    }
    return top;
}

static uint64_t words[8192];

/* The initial stack Linux builds (argc, argv, envp, auxv, and the strings above), from
 * WASI's arguments and environment; the stack pointer. */
static uint64_t build_stack(void) {
    uint32_t argc = 0, envc = 0, size;
    args_sizes_get(&argc, &size);
    environ_sizes_get(&envc, &size);
    if (argc > 2048 || envc > 2048)
        argc = envc = 0;
    args_get(strings_area[0], strings[0]);
    environ_get(strings_area[1], strings[1]);
    uint64_t top = config(CONFIG_STACK_TOP), random[2];
    static uint64_t arg_at[2048], env_at[2048];
    top = push_strings(top, strings_area[1], envc, env_at);
    top = push_strings(top, strings_area[0], argc, arg_at);
    top -= 8;
    copy_out(top, "riscv64", 8);
    uint64_t platform = top;
    random_get(random, sizeof random);
    top -= 16;
    copy_out(top, random, 16);
    uint64_t random_at = top;
    uint32_t n = 0;
    words[n++] = argc;
    for (uint32_t i = 0; i < argc; i++)
        words[n++] = arg_at[i];
    words[n++] = 0;
    for (uint32_t i = 0; i < envc; i++)
        words[n++] = env_at[i];
    words[n++] = 0;
    const uint64_t auxv[][2] = {
        {3, config(CONFIG_PHDR)}, {4, 56}, {5, config(CONFIG_PHNUM)}, {6, PAGE}, {7, 0},
        {8, 0}, {9, config(CONFIG_ENTRY)}, {11, 0}, {12, 0}, {13, 0}, {14, 0}, {23, 0},
        {16, config(CONFIG_HWCAP)}, {17, 100}, {25, random_at},
        {31, argc ? arg_at[0] : platform}, {15, platform}, {0, 0},
    };
    for (uint32_t i = 0; i < sizeof auxv / sizeof auxv[0]; i++) {
        words[n++] = auxv[i][0];
        words[n++] = auxv[i][1];
    }
    uint64_t sp = (top - 8 * n) & ~15ull;
    copy_out(sp, words, 8 * n);
    return sp;
}

/* The end of a guest killed by a fault, with `mvvm run`'s line. */
static _Noreturn void fault(int number, const char *signal, const char *what, uint64_t pc) {
    say("mvvm: guest killed by ");
    say(signal);
    say(": ");
    say(what);
    say_hex(pc);
    say("\n");
    terminate(128 + number);
}

EXPORT("_start") void start(void) {
    find_preopens();
    brk_start = brk_now = config(CONFIG_BRK);
    brk_limit = brk_start + config(CONFIG_BRK_SIZE);
    mmap_top = brk_limit;
    vm_set(VM_X + 8 * 2, build_stack());
    vm_set(VM_PC, config(CONFIG_ENTRY));
    for (;;) {
        uint64_t pc = run() & ~1ull;
        switch (vm_get32(VM_REASON)) {
        case REASON_MISS: fault(11, "SIGSEGV", "jump to non-executable address ", pc);
        case REASON_ILLEGAL: fault(4, "SIGILL", "illegal instruction at pc ", pc);
        case REASON_EBREAK: fault(5, "SIGTRAP", "breakpoint (ebreak) at pc ", pc);
        case REASON_FENCE_I:
            code_changed(0, 0);
            break;
        default:
            break;
        }
        vm_set(VM_PC, pc);
    }
}

EXPORT("clock") uint64_t clock(void) {
    uint64_t now;
    clock_time_get(1, 1, &now);
    return now / 100;                           /* a 10 MHz timebase, as `mvvm run`'s */
}
