/* Robust mutexes as Linux keeps them: a thread that ends holding one (pthread_exit, no
 * unlock) leaves it to the next locker with EOWNERDEAD, whether that locker comes after
 * the end or was already waiting for it; made consistent, it works on. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mutex;

static void *hold_and_end(void *pause)
{
    pthread_mutex_lock(&mutex);
    if (pause)
        usleep(200000);                 /* the main thread is waiting by now */
    pthread_exit(NULL);                 /* still holding it */
}

static const char *name(int error)
{
    return error == 0 ? "0" : error == EOWNERDEAD ? "EOWNERDEAD" : strerror(error);
}

int main(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&mutex, &attr);
    for (long waiting = 0; waiting < 2; waiting++) {
        pthread_t thread;
        pthread_create(&thread, NULL, hold_and_end, (void *)waiting);
        if (!waiting)
            pthread_join(thread, NULL);
        else
            usleep(50000);              /* it holds the mutex: wait for it in lock */
        int error = pthread_mutex_lock(&mutex);
        printf("%s: lock gives %s\n", waiting ? "waiting" : "after the end", name(error));
        if (error == EOWNERDEAD)
            printf("consistent: %s\n", name(pthread_mutex_consistent(&mutex)));
        printf("unlock: %s\n", name(pthread_mutex_unlock(&mutex)));
        printf("lock again: %s\n", name(pthread_mutex_lock(&mutex)));
        pthread_mutex_unlock(&mutex);
        if (waiting)
            pthread_join(thread, NULL);
    }
    return 0;
}
