/* Files and directories: a tree built, walked with nftw, renamed, linked, locked, copied,
   truncated, timed and removed again, with the errors Linux gives along the way.
   argv[1] is a scratch directory that does not exist yet. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %d)\n", __LINE__, #c, errno); failures++; } } while (0)

static int seen_files, seen_dirs, seen_links;
static long total_size;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)path;
    if (type == FTW_F) { seen_files++; total_size += st->st_size; }
    else if (type == FTW_D) seen_dirs++;
    else if (type == FTW_SL) seen_links++;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st; (void)type; (void)ftw;
    return remove(path);
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(close(fd) == 0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) return 99;
    const char *top = argv[1];
    umask(022);
    CHECK(mkdir(top, 0755) == 0);
    CHECK(mkdir(top, 0755) == -1 && errno == EEXIST);
    CHECK(chdir(top) == 0);
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(strlen(cwd) >= strlen(top));

    /* A tree: a/b/c with files at each level, a symlink and a hard link. */
    CHECK(mkdir("a", 0755) == 0 && mkdir("a/b", 0700) == 0 && mkdir("a/b/c", 0755) == 0);
    write_file("a/one.txt", "one\n");
    write_file("a/b/two.txt", "two two\n");
    write_file("a/b/c/three.txt", "three three three\n");
    CHECK(symlink("b/two.txt", "a/link") == 0);
    CHECK(link("a/one.txt", "a/hard") == 0);
    struct stat st;
    CHECK(stat("a/hard", &st) == 0 && st.st_nlink == 2 && st.st_size == 4);
    CHECK(lstat("a/link", &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat("a/link", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 8);
    char target[64] = {0};
    CHECK(readlink("a/link", target, sizeof target) == 9 && strcmp(target, "b/two.txt") == 0);
    CHECK(nftw(".", visit, 8, FTW_PHYS) == 0);
    printf("nftw: %d files, %d dirs, %d links, %ld bytes\n", seen_files, seen_dirs, seen_links,
           total_size);
    CHECK(seen_files == 4 && seen_dirs == 4 && seen_links == 1 && total_size == 34);

    /* getdents64 through readdir, sorted for a stable output. */
    DIR *d = opendir("a");
    CHECK(d != NULL);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) entries++;
    closedir(d);
    CHECK(entries == 6);

    /* *at calls relative to a directory descriptor. */
    int dfd = open("a/b", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK(fstatat(dfd, "two.txt", &st, 0) == 0 && st.st_size == 8);
    CHECK(faccessat(dfd, "two.txt", R_OK | W_OK, 0) == 0);
    CHECK(faccessat(dfd, "missing", F_OK, 0) == -1 && errno == ENOENT);
    CHECK(mkdirat(dfd, "d", 0755) == 0 && unlinkat(dfd, "d", AT_REMOVEDIR) == 0);
    CHECK(renameat(dfd, "two.txt", dfd, "deux.txt") == 0);
    CHECK(renameat2(dfd, "deux.txt", AT_FDCWD, "a/one.txt", RENAME_NOREPLACE) == -1 && errno == EEXIST);
    CHECK(renameat2(dfd, "deux.txt", dfd, "two.txt", RENAME_NOREPLACE) == 0);
    CHECK(fchmodat(dfd, "two.txt", 0600, 0) == 0);
    CHECK(fstatat(dfd, "two.txt", &st, 0) == 0 && (st.st_mode & 0777) == 0600);
    struct timespec times[2] = {{1000000000, 5}, {1234567890, 123456789}};
    CHECK(utimensat(dfd, "two.txt", times, 0) == 0);
    CHECK(fstatat(dfd, "two.txt", &st, 0) == 0 && st.st_mtim.tv_sec == 1234567890 &&
          st.st_mtim.tv_nsec == 123456789);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    CHECK(utimensat(dfd, "two.txt", omit, 0) == 0);
    CHECK(fstatat(dfd, "two.txt", &st, 0) == 0 && st.st_atim.tv_sec == 1000000000 &&
          st.st_mtim.tv_sec > 1234567890);
    CHECK(fchdir(dfd) == 0 && access("two.txt", F_OK) == 0 && chdir("../..") == 0);
    close(dfd);

    /* Reading and writing: vectors, offsets, truncation, copies. */
    int fd = open("data", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    CHECK(fd >= 0);
    CHECK(open("data", O_RDWR | O_CREAT | O_EXCL, 0640) == -1 && errno == EEXIST);
    CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
    struct iovec iov[4] = {{"abc", 3}, {"", 0}, {"defgh", 5}, {NULL, 0}};
    CHECK(writev(fd, iov, 4) == 8);            /* an empty buffer's address is never checked */
    CHECK(write(fd, NULL, 0) == 0 && read(fd, NULL, 0) == 0 && readv(fd, iov + 3, 1) == 0);
    CHECK(pwrite(fd, "XY", 2, 1) == 2);
    char buf[64] = {0};
    CHECK(pread(fd, buf, sizeof buf, 0) == 8 && memcmp(buf, "aXYdefgh", 8) == 0);
    CHECK(lseek(fd, 0, SEEK_END) == 8 && lseek(fd, -3, SEEK_CUR) == 5);
    CHECK(read(fd, buf, 2) == 2 && memcmp(buf, "fg", 2) == 0);
    CHECK(ftruncate(fd, 4) == 0 && fstat(fd, &st) == 0 && st.st_size == 4);
    CHECK(fallocate(fd, 0, 0, 8192) == 0 && fstat(fd, &st) == 0 && st.st_size == 8192);
    CHECK(ftruncate(fd, 4) == 0);
    CHECK(fsync(fd) == 0 && fdatasync(fd) == 0);
    CHECK(fchmod(fd, 0600) == 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(fchown(fd, getuid(), getgid()) == 0);
    int out = open("copy", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    off_t off = 1;
    CHECK(sendfile(out, fd, &off, 100) == 3 && off == 4);
    loff_t in_off = 0;
    CHECK(copy_file_range(fd, &in_off, out, NULL, 4, 0) == 4 && in_off == 4);
    close(out);
    CHECK(stat("copy", &st) == 0 && st.st_size == 7);

    /* Descriptors: dup, fcntl flags and record locks, flock. */
    int d2 = dup(fd), d3 = fcntl(fd, F_DUPFD_CLOEXEC, 20);
    CHECK(d2 > fd && d3 >= 20 && fcntl(d3, F_GETFD) == FD_CLOEXEC && fcntl(d2, F_GETFD) == 0);
    CHECK(dup3(fd, 30, O_CLOEXEC) == 30 && fcntl(30, F_GETFD) == FD_CLOEXEC);
    CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
    CHECK(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK) == 0 && (fcntl(fd, F_GETFL) & O_APPEND));
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 2};
    CHECK(fcntl(fd, F_SETLK, &lk) == 0);
    lk.l_type = F_RDLCK;
    CHECK(fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type == F_UNLCK);
    CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0 && flock(fd, LOCK_UN) == 0);
    close(d2); close(d3); close(30);
    CHECK(close(fd) == 0 && close(fd) == -1 && errno == EBADF);

    /* pipes, FIONREAD, terminal ioctls on something that is no terminal. */
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0 && write(p[1], "12345", 5) == 5);
    int avail = 0;
    CHECK(ioctl(p[0], FIONREAD, &avail) == 0 && avail == 5);
    struct termios t;
    CHECK(tcgetattr(p[0], &t) == -1 && errno == ENOTTY);
    close(p[0]); close(p[1]);

    struct statfs sfs;
    CHECK(statfs(".", &sfs) == 0 && sfs.f_bsize > 0);
    CHECK(access("nowhere/x", F_OK) == -1 && errno == ENOENT);
    CHECK(open("data/x", O_RDONLY) == -1 && errno == ENOTDIR);
    CHECK(rmdir("a") == -1 && errno == ENOTEMPTY);
    CHECK(unlink("a/link") == 0 && stat("a/b/two.txt", &st) == 0);

    /* Remove it all again, depth first. */
    CHECK(chdir("..") == 0);
    CHECK(nftw(top, remove_entry, 8, FTW_DEPTH | FTW_PHYS) == 0);
    CHECK(access(top, F_OK) == -1 && errno == ENOENT);
    printf("files: %d failures\n", failures);
    return failures;
}
