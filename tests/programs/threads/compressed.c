/* A worker thread runs a compressed instruction the main thread never does (c.li t6, 13,
 * whose value is 0x4fb5): tier 0 expands it on that thread alone, and the code cache must
 * keep that expansion for the next run, with the main thread's.  Prints the worker's t6;
 * exits with 1 if it is wrong. */
#include <pthread.h>
#include <stdio.h>

static void *work(void *arg)
{
    long value;
    asm volatile(".option push\n.option rvc\nc.li t6, 13\nmv %0, t6\n.option pop"
                 : "=r"(value) : : "t6");
    *(long *)arg = value;
    return 0;
}

int main(void)
{
    long value = 0;
    pthread_t thread;
    if (pthread_create(&thread, 0, work, &value) || pthread_join(thread, 0))
        return 2;
    printf("the worker's t6: %ld\n", value);
    return value != 13;
}
