/* Condition variables and barriers: a bounded buffer (8 slots) with two producers and two
 * consumers, waiting on "not full" and "not empty"; every item is consumed exactly once,
 * each consumer sees each producer's items in order, and the sum is known.  Then a gate
 * opened with pthread_cond_broadcast, pthread_cond_timedwait timing out, and a
 * pthread_barrier over 100 rounds (exactly one PTHREAD_BARRIER_SERIAL_THREAD per round, and
 * no thread leaves a round before all have entered it).  Exits with its failed checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

/* The bounded buffer. */
enum { SLOTS = 8, PRODUCERS = 2, CONSUMERS = 2, ITEMS = 20000, DONE = -1 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long buffer[SLOTS];
static int head, count;
static unsigned char seen[PRODUCERS * ITEMS + 1];   /* guarded by lock */
static int out_of_order;

static void put(long item)
{
    pthread_mutex_lock(&lock);
    while (count == SLOTS)
        pthread_cond_wait(&not_full, &lock);
    buffer[(head + count) % SLOTS] = item;
    count++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
}

/* Producer p makes the items p*ITEMS + 1 .. p*ITEMS + ITEMS, in order. */
static void *producer(void *arg)
{
    long p = (long)(intptr_t)arg;
    for (long i = 1; i <= ITEMS; i++)
        put(p * ITEMS + i);
    return 0;
}

struct tally {
    long sum, items;
};

static void *consumer(void *arg)
{
    struct tally *t = arg;
    long last[PRODUCERS] = {0};
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count == 0)
            pthread_cond_wait(&not_empty, &lock);
        long item = buffer[head];
        head = (head + 1) % SLOTS;
        count--;
        if (item != DONE)
            seen[item]++;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
        if (item == DONE)
            return 0;
        long from = (item - 1) / ITEMS;
        if (item <= last[from])
            __atomic_fetch_add(&out_of_order, 1, __ATOMIC_RELAXED);
        last[from] = item;
        t->sum += item;
        t->items++;
    }
}

static void bounded_buffer(void)
{
    pthread_t producers[PRODUCERS], consumers[CONSUMERS];
    struct tally tallies[CONSUMERS];
    memset(tallies, 0, sizeof tallies);
    for (int c = 0; c < CONSUMERS; c++)
        CHECK(pthread_create(&consumers[c], 0, consumer, &tallies[c]) == 0);
    for (int p = 0; p < PRODUCERS; p++)
        CHECK(pthread_create(&producers[p], 0, producer, (void *)(intptr_t)p) == 0);
    for (int p = 0; p < PRODUCERS; p++)
        CHECK(pthread_join(producers[p], 0) == 0);
    for (int c = 0; c < CONSUMERS; c++)
        put(DONE);
    for (int c = 0; c < CONSUMERS; c++)
        CHECK(pthread_join(consumers[c], 0) == 0);

    long sum = 0, items = 0, n = (long)PRODUCERS * ITEMS;
    for (int c = 0; c < CONSUMERS; c++)
        sum += tallies[c].sum, items += tallies[c].items;
    int once = 1;
    for (long i = 1; i <= n; i++)
        once &= seen[i] == 1;
    printf("bounded buffer: %ld items, sum %ld (want %ld)\n", items, sum, n * (n + 1) / 2);
    printf("each item consumed once: %s, in order per producer: %s\n", once ? "yes" : "no",
           out_of_order ? "no" : "yes");
    CHECK(items == n && sum == n * (n + 1) / 2 && once && !out_of_order && count == 0);
}

/* A gate: threads wait until the main thread opens it with one broadcast. */
enum { WAITERS = 5 };
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static int gate_open, waiting, passed;

static void *at_gate(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    waiting++;
    pthread_cond_signal(&arrived);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &lock);
    passed++;
    pthread_mutex_unlock(&lock);
    return 0;
}

static void broadcast(void)
{
    pthread_t threads[WAITERS];
    for (int t = 0; t < WAITERS; t++)
        CHECK(pthread_create(&threads[t], 0, at_gate, 0) == 0);
    pthread_mutex_lock(&lock);
    while (waiting < WAITERS)
        pthread_cond_wait(&arrived, &lock);
    int before = passed;
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&lock);
    for (int t = 0; t < WAITERS; t++)
        CHECK(pthread_join(threads[t], 0) == 0);
    printf("broadcast: %d waiting, %d passed before, %d after\n", waiting, before, passed);
    CHECK(before == 0 && passed == WAITERS);

    /* Nobody signals: the timed wait ends with ETIMEDOUT, with the mutex held again. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 20 * 1000000;
    if (deadline.tv_nsec >= 1000000000)
        deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
    pthread_mutex_lock(&lock);
    int rc = pthread_cond_timedwait(&gate_cond, &lock, &deadline);
    CHECK(pthread_mutex_trylock(&lock) == EBUSY);
    pthread_mutex_unlock(&lock);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int late = now.tv_sec > deadline.tv_sec ||
               (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
    printf("timedwait: %s, after the deadline: %s\n", rc == ETIMEDOUT ? "ETIMEDOUT" : "other",
           late ? "yes" : "no");
    CHECK(rc == ETIMEDOUT && late);
}

/* The barrier: in each round every thread writes its slot, waits, then reads all slots of
 * the round; one waiter per round is told it is the serial thread. */
enum { PARTIES = 4, ROUNDS = 100 };
static pthread_barrier_t barrier;
static int slots[ROUNDS][PARTIES];
static int serial[ROUNDS];
static int incomplete;

static void *party(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        slots[r][me] = r + 1;
        int rc = pthread_barrier_wait(&barrier);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
            __atomic_fetch_add(&serial[r], 1, __ATOMIC_RELAXED);
        else if (rc != 0)
            __atomic_fetch_add(&incomplete, 1000, __ATOMIC_RELAXED);
        for (int other = 0; other < PARTIES; other++)
            if (slots[r][other] != r + 1)
                __atomic_fetch_add(&incomplete, 1, __ATOMIC_RELAXED);
    }
    return 0;
}

static void barriers(void)
{
    pthread_t threads[PARTIES];
    CHECK(pthread_barrier_init(&barrier, 0, PARTIES) == 0);
    for (int t = 0; t < PARTIES; t++)
        CHECK(pthread_create(&threads[t], 0, party, (void *)(intptr_t)t) == 0);
    for (int t = 0; t < PARTIES; t++)
        CHECK(pthread_join(threads[t], 0) == 0);
    CHECK(pthread_barrier_destroy(&barrier) == 0);
    int one_serial = 1;
    for (int r = 0; r < ROUNDS; r++)
        one_serial &= serial[r] == 1;
    printf("barrier: %d rounds of %d, one serial thread per round: %s, all slots seen: %s\n",
           ROUNDS, PARTIES, one_serial ? "yes" : "no", incomplete ? "no" : "yes");
    CHECK(one_serial && incomplete == 0);
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    bounded_buffer();
    broadcast();
    barriers();
    printf("condvar: %d failures\n", failures);
    return failures;
}
