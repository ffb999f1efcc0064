/* Files and directories through the calls `mvvm wasm` maps to WASI: create, write, read
   back (plain, vectored, positioned), seek, stat, list a directory, rename, remove, and
   the errors Linux gives. argv[1] is a directory to create, relative to the current one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %d)\n", __LINE__, #c, errno); failures++; } } while (0)

static char path[512];
static const char *at(const char *dir, const char *name) {
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    char *names[64];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 64;) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    printf("%s:", dir);
    for (int i = 0; i < n; i++) {
        struct stat st;
        CHECK(stat(at(dir, names[i]), &st) == 0);
        printf(" %s%s(%ld)", names[i], S_ISDIR(st.st_mode) ? "/" : "",
               S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
        free(names[i]);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "scratch";
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(mkdir(dir, 0755) == -1 && errno == EEXIST);
    CHECK(mkdir(at(dir, "sub"), 0755) == 0);

    int fd = open(at(dir, "a.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "hello, ", 7) == 7);
    struct iovec out[3] = {{"wasi ", 5}, {NULL, 0}, {"world\n", 6}};
    CHECK(writev(fd, out, 3) == 11);
    CHECK(close(fd) == 0);
    CHECK(close(fd) == -1 && errno == EBADF);

    fd = open(at(dir, "a.txt"), O_RDONLY);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 18);
    char buf[64] = {0};
    CHECK(read(fd, buf, sizeof buf) == 18);
    printf("read: %s", buf);
    CHECK(read(fd, buf, sizeof buf) == 0);
    CHECK(lseek(fd, 7, SEEK_SET) == 7);
    char first[5] = {0}, second[8] = {0};
    struct iovec in[2] = {{first, 4}, {second, 7}};
    CHECK(readv(fd, in, 2) == 11);
    printf("readv: [%s] [%s]\n", first, second);
    CHECK(lseek(fd, -6, SEEK_END) == 12);
    memset(buf, 0, sizeof buf);
    CHECK(pread(fd, buf, 5, 0) == 5);
    printf("pread: %s, then at %ld\n", buf, (long)lseek(fd, 0, SEEK_CUR));
    CHECK(write(fd, "x", 1) == -1 && errno == EBADF);
    CHECK(close(fd) == 0);

    fd = open(at(dir, "a.txt"), O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "more\n", 5) == 5 && close(fd) == 0);
    CHECK(stat(at(dir, "a.txt"), &st) == 0 && st.st_size == 23);

    FILE *f = fopen(at(dir, "b.txt"), "w");
    CHECK(f != NULL);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "line %d\n", i);
    CHECK(fclose(f) == 0);
    f = fopen(at(dir, "b.txt"), "r");
    long sum = 0;
    for (int n; fscanf(f, "line %d\n", &n) == 1;)
        sum += n;
    fclose(f);
    printf("sum of b.txt: %ld\n", sum);

    list(dir);
    CHECK(rename(at(dir, "b.txt"), "moved.txt") == 0);
    CHECK(open(at(dir, "b.txt"), O_RDONLY) == -1 && errno == ENOENT);
    CHECK(stat("missing/none", &st) == -1 && errno == ENOENT);
    CHECK(access("moved.txt", F_OK) == 0);
    CHECK(unlink("moved.txt") == 0);
    CHECK(rmdir(dir) == -1 && errno == ENOTEMPTY);
    CHECK(open(at(dir, "sub"), O_RDONLY | O_DIRECTORY) >= 0);
    CHECK(open(at(dir, "a.txt"), O_RDONLY | O_DIRECTORY) == -1 && errno == ENOTDIR);
    list(dir);
    CHECK(unlink(at(dir, "a.txt")) == 0);
    CHECK(rmdir(at(dir, "sub")) == 0);
    CHECK(rmdir(dir) == 0);
    CHECK(stat(dir, &st) == -1 && errno == ENOENT);
    printf("failures: %d\n", failures);
    return failures;
}
