/* Eight threads hammer shared counters, each way of making an increment safe in turn: a
 * pthread mutex around a plain increment, C11 atomic_fetch_add, a compare-and-swap loop
 * (atomic_compare_exchange_weak), a spin lock built from LR/SC (lr.w.aq / sc.w.rl) around a
 * plain increment, and an lr.d / sc.d increment loop.  All threads start together at a
 * barrier, so the increments really race.  Each total is known: 8 x 100000.  Exits with its
 * failed checks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

enum { THREADS = 8, ROUNDS = 100000 };

static pthread_barrier_t start;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static long mutex_count;
static atomic_long fetch_add_count;
static atomic_long cas_count;
static atomic_long cas_retries;
static int spin;                 /* 0 free, 1 held: only touched by the LR/SC code below */
static long spin_count;          /* plain, guarded by spin */
static volatile long spin_holders;  /* threads inside the critical section: must stay 1 */
static long spin_overlaps;
static long lrsc_count;

/* One attempt at the lock: lr.w.aq the word; if it is free, sc.w.rl a 1 into it, retrying
 * the pair when the store-conditional fails.  Returns whether this thread now holds it. */
static int spin_try(int *lock)
{
    int old, failed;
    __asm__ volatile("1: lr.w.aq %0, (%2)\n"
                     "   bnez    %0, 2f\n"
                     "   sc.w.rl %1, %3, (%2)\n"
                     "   bnez    %1, 1b\n"
                     "2:\n"
                     : "=&r"(old), "=&r"(failed)
                     : "r"(lock), "r"(1)
                     : "memory");
    return old == 0;
}

static void spin_lock(int *lock)
{
    while (!spin_try(lock)) {
        /* Wait for the holder with plain loads, yielding now and then: with more threads
         * than cores the holder may be waiting for this core. */
        for (int i = 0; *(volatile int *)lock; i++)
            if (i % 64 == 63)
                sched_yield();
    }
}

static void spin_unlock(int *lock)
{
    __asm__ volatile("fence rw, w\n"
                     "sw zero, 0(%0)" : : "r"(lock) : "memory");
}

static void lrsc_add(long *p, long v)
{
    long old, failed;
    __asm__ volatile("1: lr.d    %0, (%2)\n"
                     "   add     %0, %0, %3\n"
                     "   sc.d    %1, %0, (%2)\n"
                     "   bnez    %1, 1b\n"
                     : "=&r"(old), "=&r"(failed)
                     : "r"(p), "r"(v)
                     : "memory");
}

static void *hammer(void *arg)
{
    int way = (int)(intptr_t)arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < ROUNDS; i++) {
        switch (way) {
        case 0:
            pthread_mutex_lock(&mutex);
            mutex_count++;
            pthread_mutex_unlock(&mutex);
            break;
        case 1:
            atomic_fetch_add(&fetch_add_count, 1);
            break;
        case 2: {
            long seen = atomic_load_explicit(&cas_count, memory_order_relaxed);
            while (!atomic_compare_exchange_weak(&cas_count, &seen, seen + 1))
                atomic_fetch_add_explicit(&cas_retries, 1, memory_order_relaxed);
            break;
        }
        case 3:
            spin_lock(&spin);
            if (++spin_holders != 1)
                spin_overlaps++;
            spin_count++;
            spin_holders--;
            spin_unlock(&spin);
            break;
        case 4:
            lrsc_add(&lrsc_count, 1);
            break;
        }
    }
    return 0;
}

static long run(int way)
{
    pthread_t threads[THREADS];
    pthread_barrier_init(&start, 0, THREADS);
    for (int t = 0; t < THREADS; t++)
        CHECK(pthread_create(&threads[t], 0, hammer, (void *)(intptr_t)way) == 0);
    for (int t = 0; t < THREADS; t++)
        CHECK(pthread_join(threads[t], 0) == 0);
    pthread_barrier_destroy(&start);
    switch (way) {
    case 0: return mutex_count;
    case 1: return atomic_load(&fetch_add_count);
    case 2: return atomic_load(&cas_count);
    case 3: return spin_count;
    default: return lrsc_count;
    }
}

int main(void)
{
    static const char *const names[] = {"pthread mutex", "atomic_fetch_add", "CAS loop",
                                        "LR/SC spin lock", "LR/SC add"};
    const long want = (long)THREADS * ROUNDS;
    for (int way = 0; way < 5; way++) {
        long got = run(way);
        printf("%s: %ld (want %ld)\n", names[way], got, want);
        CHECK(got == want);
    }
    CHECK(spin == 0);
    CHECK(spin_overlaps == 0);
    printf("spin lock held by one thread at a time: %s\n", spin_overlaps == 0 ? "yes" : "no");
    printf("counters: %d failures\n", failures);
    return failures;
}
