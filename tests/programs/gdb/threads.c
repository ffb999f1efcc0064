/* What tests/test_gdb.py drives through `mvvm run -g` for threads: a breakpoint that a
 * second thread reaches first while the main thread waits for it in pthread_join, then the
 * main thread itself. The worker waits until main is on its way into the join, so that gdb
 * finds main's frame below the stop whatever the host's scheduler does. Built -O0 -g. */
#include <pthread.h>
#include <stdio.h>

int results[2];
static volatile int joining;

void work(int id)
{
    int doubled = id * 2;
    results[id] = doubled + 1;
}

static void *worker(void *arg)
{
    while (!joining)
        ;
    work((int)(long)arg);
    return NULL;
}

int main(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, (void *)1L) != 0)
        return 1;
    joining = 1;
    if (pthread_join(thread, NULL) != 0)
        return 1;
    work(0);
    printf("results %d %d\n", results[0], results[1]);
    return 0;
}
