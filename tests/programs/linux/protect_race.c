/* Page protection against threads (run under MVVM only: qemu-user 7.2 hangs in the fork
 * part): one thread reads /dev/zero into a buffer that another keeps unmapping and
 * mapping again, or making PROT_NONE and back; a file is mapped again and again while
 * children fork and change a page's rights. Each read is whole or EFAULT, nothing else
 * happens to the host process, and no child hangs. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE (8 << 20)

static char *buffer;
static volatile int stop;
static int file;

static void *flip(void *unmap)
{
    int rw = PROT_READ | PROT_WRITE;
    while (!stop) {
        if (unmap) {
            munmap(buffer, SIZE);
            mmap(buffer, SIZE, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        } else {
            mprotect(buffer, SIZE, PROT_NONE);
            mprotect(buffer, SIZE, rw);
        }
    }
    return NULL;
}

static void *map_file(void *unused)
{
    (void)unused;
    while (!stop) {
        char *p = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, file, 0);
        if (p != MAP_FAILED)
            munmap(p, SIZE);
    }
    return NULL;
}

static int reads(long unmap)
{
    int zero = open("/dev/zero", O_RDONLY), odd = 0;
    pthread_t thread;
    stop = 0;
    pthread_create(&thread, NULL, flip, (void *)unmap);
    for (int i = 0; i < 100; i++) {
        long got = read(zero, buffer, SIZE);
        odd += got != SIZE && got != -1;
    }
    stop = 1;
    pthread_join(thread, NULL);
    close(zero);
    return odd;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 99;
    buffer = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("reads against munmap: %d odd\n", reads(1));
    printf("reads against mprotect: %d odd\n", reads(0));

    file = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    ftruncate(file, SIZE);
    static char page[8192] __attribute__((aligned(4096)));
    pthread_t thread;
    stop = 0;
    pthread_create(&thread, NULL, map_file, NULL);
    int hung = 0;
    for (int i = 0; i < 30; i++) {
        pid_t child = fork();
        if (child == 0) {
            mprotect(page, 4096, PROT_READ);
            _exit(0);
        }
        int status, done = 0;
        for (int j = 0; j < 500 && !done; j++)
            if (waitpid(child, &status, WNOHANG) == child)
                done = 1;
            else
                usleep(10000);
        if (!done) {
            hung++;
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
        }
    }
    stop = 1;
    pthread_join(thread, NULL);
    printf("children that hung: %d\n", hung);
    return 0;
}
