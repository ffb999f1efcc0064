/* Memory: mmap in its forms (anonymous, fixed, file-backed private and
   shared read-only, PROT_NONE reservations made accessible later), munmap, mremap, mprotect,
   madvise, msync, mincore, membarrier; and code written at run time, executed, rewritten
   and executed again (a JIT), which must not run stale translations. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %d)\n", __LINE__, #c, errno); failures++; } } while (0)
#define PAGE 4096

static uint32_t li_a0(int n) { return ((uint32_t)(n & 0xfff) << 20) | (10 << 7) | 0x13; }

static int jit(void) {
    uint32_t *code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(code != MAP_FAILED);
    int (*fn)(void) = (int (*)(void))code;
    int results[4];
    for (int round = 0; round < 4; round++) {
        if (round) CHECK(mprotect(code, PAGE, PROT_READ | PROT_WRITE) == 0);
        code[0] = li_a0(100 + round);
        code[1] = 0x00008067;                      /* ret */
        CHECK(mprotect(code, PAGE, PROT_READ | PROT_EXEC) == 0);
        if (round % 2) __builtin___clear_cache((char *)code, (char *)(code + 2));
        results[round] = fn();
    }
    printf("jit: %d %d %d %d\n", results[0], results[1], results[2], results[3]);
    for (int i = 0; i < 4; i++) CHECK(results[i] == 100 + i);
    /* Map new code over the old with MAP_FIXED: the old translation must go too. */
    uint32_t *again = mmap(code, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(again == code);
    code[0] = li_a0(7);
    code[1] = 0x00008067;
    __builtin___clear_cache((char *)code, (char *)(code + 2));
    CHECK(fn() == 7);
    return munmap(code, PAGE);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    /* Anonymous, zeroed, writable. */
    char *a = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(a != MAP_FAILED && a[0] == 0 && a[3 * PAGE - 1] == 0);
    memset(a, 'a', 3 * PAGE);
    /* MAP_FIXED over the middle page replaces it with zeroes. */
    char *mid = mmap(a + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(mid == a + PAGE && mid[0] == 0 && a[0] == 'a' && a[2 * PAGE] == 'a');
    unsigned char vec[3];
    CHECK(mincore(a, 3 * PAGE, vec) == 0);
    CHECK(madvise(a, 3 * PAGE, MADV_WILLNEED) == 0);
    /* MADV_DONTNEED drops private anonymous pages: they read as zero again (jemalloc
       checks this, and says so on stderr when it does not hold). */
    CHECK(madvise(a + 2 * PAGE, PAGE, MADV_DONTNEED) == 0 && a[2 * PAGE] == 0 && a[0] == 'a');
    CHECK(msync(a, PAGE, MS_SYNC) == 0);
    /* munmap a hole, then mincore on it fails. */
    CHECK(munmap(a + PAGE, PAGE) == 0);
    CHECK(mincore(a, 3 * PAGE, vec) == -1 && errno == ENOMEM);
    CHECK(munmap(a, 3 * PAGE) == 0);

    /* A PROT_NONE reservation, made accessible piece by piece. */
    char *r = mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(r != MAP_FAILED);
    CHECK(mprotect(r, 2 * PAGE, PROT_READ | PROT_WRITE) == 0);
    strcpy(r, "reserved then used");
    CHECK(mmap(r + 4 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
          == r + 4 * PAGE);
    r[4 * PAGE] = 'x';
    printf("%s %c\n", r, r[4 * PAGE]);

    /* mremap: grow in place when free, move when not, shrink. */
    char *g = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(g, "kept across mremap");
    char *g2 = mremap(g, PAGE, 64 * PAGE, MREMAP_MAYMOVE);
    CHECK(g2 != MAP_FAILED && strcmp(g2, "kept across mremap") == 0);
    g2[64 * PAGE - 1] = 1;
    CHECK(mremap(g2, 64 * PAGE, 128 * PAGE, 0) != MAP_FAILED || errno == ENOMEM);
    char *g3 = mremap(g2, 64 * PAGE, PAGE, 0);
    CHECK(g3 == g2 && strcmp(g3, "kept across mremap") == 0);
    CHECK(munmap(g3, PAGE) == 0);

    /* File mappings: private (writes stay private) and shared read-only. */
    char path[] = "/tmp/mvvm-mmap-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    char content[2 * PAGE];
    for (int i = 0; i < 2 * PAGE; i++) content[i] = 'A' + i % 26;
    CHECK(write(fd, content, sizeof content) == sizeof content);
    char *priv = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(priv != MAP_FAILED && memcmp(priv, content, sizeof content) == 0);
    priv[0] = '#';
    char first;
    CHECK(pread(fd, &first, 1, 0) == 1 && first == 'A');
    char *shared = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
    CHECK(shared != MAP_FAILED && memcmp(shared, content + PAGE, PAGE) == 0);
    char *tail = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(tail != MAP_FAILED && tail[2 * PAGE - 1] == content[2 * PAGE - 1]);
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 1) == MAP_FAILED && errno == EINVAL);
    close(fd);
    unlink(path);

    /* What has no contents to map: a pipe, a directory. */
    int pipes[2];
    CHECK(pipe(pipes) == 0);
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pipes[0], 0) == MAP_FAILED && errno == ENODEV);
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    CHECK(dir >= 0);
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, dir, 0) == MAP_FAILED && errno == ENODEV);
    close(dir);
    close(pipes[0]);
    close(pipes[1]);

    CHECK(syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) > 0);
    CHECK(jit() == 0);
    printf("mmap: %d failures\n", failures);
    return failures;
}
