/* Threads being born, living and dying.  With no argument: pthread_join returns each
 * thread's return value (also pthread_exit's, called deep in a thread while the main thread
 * goes on working); threads on a stack the program provides; detached threads (by attribute
 * and by pthread_detach) that finish, synchronised with a semaphore; a pool of 4 workers
 * that runs two batches of 1000 short tasks from a queue, outlives them and then shuts down;
 * a thread cancelled while blocked, with its cleanup handler run; the syscalls that take a
 * tid, given another thread's (sched_getaffinity, sched_getscheduler, sched_getparam,
 * prlimit64, and pthread_getattr_np, which glibc builds on them).  Exits with its failed
 * checks.
 *
 *   lifecycle exit        a thread calls exit(7) while the others (the main thread in
 *                         pthread_join) are blocked: atexit handlers run on that thread,
 *                         stdout is flushed, and the process ends with status 7.
 *   lifecycle main-exits  the main thread calls pthread_exit; the other thread goes on,
 *                         joins the main thread, and the process ends with status 0 when it
 *                         returns. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static unsigned long hash(unsigned long x)
{
    for (int i = 0; i < 100; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul, x ^= x >> 29;
    return x;
}

/* --- Return values ------------------------------------------------------------------- */

static void *square(void *arg)
{
    intptr_t i = (intptr_t)arg;
    return (void *)(i * i + 1);
}

static volatile int main_went_on;

/* Called through a pointer, so that gcc does not see every path of deep() recurse or end
 * the thread (which -Winfinite-recursion reports). */
static void (*volatile end_thread)(void *) = pthread_exit;

static int deep(int depth, intptr_t value)
{
    if (depth > 0)
        return deep(depth - 1, value) + 1;
    end_thread((void *)value);          /* never returns: the rest is not run */
    return 0;
}

static sem_t exited_soon;

static void *exits_early(void *arg)
{
    sem_post(&exited_soon);
    main_went_on = -1000 - deep(50, (intptr_t)arg);
    return (void *)-1;
}

static void join_values(void)
{
    enum { N = 10 };
    pthread_t threads[N];
    for (intptr_t i = 0; i < N; i++)
        CHECK(pthread_create(&threads[i], 0, square, (void *)i) == 0);
    int right = 0;
    for (intptr_t i = N - 1; i >= 0; i--) {
        void *value = 0;
        CHECK(pthread_join(threads[i], &value) == 0);
        right += value == (void *)(i * i + 1);
    }
    printf("join: %d of %d return values right\n", right, N);
    CHECK(right == N);

    pthread_t early;
    sem_init(&exited_soon, 0, 0);
    CHECK(pthread_create(&early, 0, exits_early, (void *)(intptr_t)1234) == 0);
    sem_wait(&exited_soon);
    unsigned long work = 0;
    for (unsigned long i = 0; i < 200; i++)       /* the main thread goes on meanwhile */
        work += hash(i);
    main_went_on = work != 0;
    void *value = 0;
    CHECK(pthread_join(early, &value) == 0);
    printf("pthread_exit from 50 calls deep: value %ld, main went on: %d\n",
           (long)(intptr_t)value, main_went_on);
    CHECK(value == (void *)1234 && main_went_on == 1);
}

/* --- A stack the program gives ------------------------------------------------------- */

enum { OWN_STACK = 256 * 1024 };
static char own_stack[OWN_STACK] __attribute__((aligned(4096)));

static void *where_am_i(void *arg)
{
    char local;
    (void)arg;
    volatile char big[64 * 1024];                  /* the stack is really usable */
    memset((char *)big, 1, sizeof big);
    return (void *)(intptr_t)(&local > own_stack && &local < own_stack + OWN_STACK &&
                              big[100] == 1);
}

static void own_stack_thread(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    CHECK(pthread_attr_setstack(&attr, own_stack, OWN_STACK) == 0);
    pthread_t t;
    void *inside = 0;
    CHECK(pthread_create(&t, &attr, where_am_i, 0) == 0);
    CHECK(pthread_join(t, &inside) == 0);
    pthread_attr_destroy(&attr);
    printf("pthread_attr_setstack: ran on the given stack: %s\n", inside ? "yes" : "no");
    CHECK(inside == (void *)1);
}

/* --- Detached threads ---------------------------------------------------------------- */

enum { DETACHED = 8 };
static sem_t finished;
static unsigned long detached_results[DETACHED];
static int detached_state[DETACHED];

static void *detached(void *arg)
{
    intptr_t i = (intptr_t)arg;
    if (i % 2)
        pthread_detach(pthread_self());
    pthread_attr_t attr;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getdetachstate(&attr, &detached_state[i]);
    pthread_attr_destroy(&attr);
    detached_results[i] = hash(i);
    sem_post(&finished);
    return 0;
}

static void detached_threads(void)
{
    sem_init(&finished, 0, 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (intptr_t i = 0; i < DETACHED; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, i % 2 ? 0 : &attr, detached, (void *)i) == 0);
    }
    pthread_attr_destroy(&attr);
    for (int i = 0; i < DETACHED; i++)
        sem_wait(&finished);
    int right = 0, states = 0;
    for (int i = 0; i < DETACHED; i++) {
        right += detached_results[i] == hash(i);
        states += detached_state[i] == PTHREAD_CREATE_DETACHED;
    }
    printf("detached: %d of %d finished with results, %d say detached\n", right, DETACHED,
           states);
    CHECK(right == DETACHED && states == DETACHED);
}

/* --- A thread pool ------------------------------------------------------------------- */

enum { WORKERS = 4, TASKS = 1000, QUEUE = 64 };

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t has_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t has_room = PTHREAD_COND_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static int queue[QUEUE], queue_head, queued, completed, shutting_down;
static unsigned long task_results[TASKS];
static pid_t worker_tids[WORKERS];
static int foreign_worker;      /* tasks run by a thread that is not one of the pool's */

static int own_worker(pid_t tid)
{
    for (int w = 0; w < WORKERS; w++)
        if (worker_tids[w] == tid)
            return 1;
    return 0;
}

static void *worker(void *arg)
{
    intptr_t me = (intptr_t)arg;
    long ran = 0;
    pthread_mutex_lock(&pool_lock);
    worker_tids[me] = gettid();
    for (;;) {
        while (queued == 0 && !shutting_down)
            pthread_cond_wait(&has_work, &pool_lock);
        if (queued == 0)
            break;                          /* shutting down, and nothing left */
        int task = queue[queue_head];
        queue_head = (queue_head + 1) % QUEUE;
        queued--;
        pthread_cond_signal(&has_room);
        pthread_mutex_unlock(&pool_lock);

        task_results[task] = hash(task);    /* the task itself, outside the lock */
        ran++;

        pthread_mutex_lock(&pool_lock);
        if (!own_worker(gettid()))
            foreign_worker++;
        if (++completed % TASKS == 0)
            pthread_cond_signal(&all_done);
    }
    pthread_mutex_unlock(&pool_lock);
    return (void *)ran;
}

static void submit(int task)
{
    pthread_mutex_lock(&pool_lock);
    while (queued == QUEUE)
        pthread_cond_wait(&has_room, &pool_lock);
    queue[(queue_head + queued) % QUEUE] = task;
    queued++;
    pthread_cond_signal(&has_work);
    pthread_mutex_unlock(&pool_lock);
}

static int run_batch(int batch)
{
    memset(task_results, 0, sizeof task_results);
    for (int task = 0; task < TASKS; task++)
        submit(task);
    pthread_mutex_lock(&pool_lock);
    while (completed < (batch + 1) * TASKS)
        pthread_cond_wait(&all_done, &pool_lock);
    pthread_mutex_unlock(&pool_lock);
    int right = 0;
    for (int task = 0; task < TASKS; task++)
        right += task_results[task] == hash(task);
    return right;
}

static void thread_pool(void)
{
    pthread_t workers[WORKERS];
    for (intptr_t w = 0; w < WORKERS; w++)
        CHECK(pthread_create(&workers[w], 0, worker, (void *)w) == 0);
    int first = run_batch(0), second = run_batch(1);

    pthread_mutex_lock(&pool_lock);
    shutting_down = 1;
    pthread_cond_broadcast(&has_work);
    pthread_mutex_unlock(&pool_lock);
    long total = 0;
    int counted = 1;
    for (int w = 0; w < WORKERS; w++) {
        void *ran = 0;
        CHECK(pthread_join(workers[w], &ran) == 0);
        total += (long)(intptr_t)ran;
        counted &= (long)(intptr_t)ran >= 0;
    }
    printf("pool of %d: batch 1 %d/%d right, batch 2 %d/%d right, %ld tasks run by the "
           "workers, %d by others\n", WORKERS, first, TASKS, second, TASKS, total,
           foreign_worker);
    CHECK(first == TASKS && second == TASKS && total == 2 * TASKS && counted);
    CHECK(completed == 2 * TASKS && queued == 0 && foreign_worker == 0);
}

/* --- Cancellation -------------------------------------------------------------------- */

static sem_t never_posted, about_to_block;
static volatile int cleaned_up;

static void cleanup(void *arg)
{
    cleaned_up = (int)(intptr_t)arg;
}

static void *blocks_forever(void *arg)
{
    (void)arg;
    pthread_cleanup_push(cleanup, (void *)(intptr_t)77);
    sem_post(&about_to_block);
    sem_wait(&never_posted);            /* a cancellation point */
    pthread_cleanup_pop(0);
    return 0;
}

static void cancellation(void)
{
    sem_init(&never_posted, 0, 0);
    sem_init(&about_to_block, 0, 0);
    pthread_t t;
    CHECK(pthread_create(&t, 0, blocks_forever, 0) == 0);
    sem_wait(&about_to_block);
    CHECK(pthread_cancel(t) == 0);
    void *value = 0;
    CHECK(pthread_join(t, &value) == 0);
    printf("cancelled while blocked: %s, cleanup handler ran: %s\n",
           value == PTHREAD_CANCELED ? "yes" : "no", cleaned_up == 77 ? "yes" : "no");
    CHECK(value == PTHREAD_CANCELED && cleaned_up == 77);
}

/* --- Syscalls given another thread's tid ---------------------------------------------- */

static sem_t tid_known, tid_done;
static pid_t other_tid;

static void *waits_with_its_tid(void *arg)
{
    (void)arg;
    other_tid = gettid();
    pthread_attr_t attr;
    size_t stack_size = 0;
    CHECK(pthread_getattr_np(pthread_self(), &attr) == 0);
    CHECK(pthread_attr_getstacksize(&attr, &stack_size) == 0 && stack_size > 0);
    pthread_attr_destroy(&attr);
    sem_post(&tid_known);
    sem_wait(&tid_done);
    return 0;
}

static void other_threads_tid(void)
{
    sem_init(&tid_known, 0, 0);
    sem_init(&tid_done, 0, 0);
    pthread_t t;
    CHECK(pthread_create(&t, 0, waits_with_its_tid, 0) == 0);
    sem_wait(&tid_known);
    cpu_set_t cpus;
    struct sched_param param;
    struct rlimit limit;
    int affinity = sched_getaffinity(other_tid, sizeof cpus, &cpus);
    int policy = sched_getscheduler(other_tid);
    int got_param = sched_getparam(other_tid, &param);
    int rlimit = prlimit(other_tid, RLIMIT_STACK, 0, &limit);
    printf("another thread's tid: affinity %s, scheduler %d, param %d, prlimit %d\n",
           affinity == 0 && CPU_COUNT(&cpus) > 0 ? "ok" : "refused", policy, got_param, rlimit);
    CHECK(affinity == 0 && policy == SCHED_OTHER && got_param == 0 && rlimit == 0);
    sem_post(&tid_done);
    CHECK(pthread_join(t, 0) == 0);
}

/* --- exit() from a thread while the others are blocked -------------------------------- */

static sem_t blocked;
static pthread_mutex_t forever_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t forever_cond = PTHREAD_COND_INITIALIZER;
static int pipe_fds[2];
static pid_t exiting_tid;

static void *block_in_cond(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&forever_lock);
    sem_post(&blocked);
    for (;;)
        pthread_cond_wait(&forever_cond, &forever_lock);
    return 0;
}

static void *block_in_read(void *arg)
{
    (void)arg;
    char c;
    sem_post(&blocked);
    for (;;)
        read(pipe_fds[0], &c, 1);
    return 0;
}

static void *block_in_sleep(void *arg)
{
    (void)arg;
    sem_post(&blocked);
    for (;;)
        sleep(1000);
    return 0;
}

static void *block_in_spin(void *arg)
{
    (void)arg;
    sem_post(&blocked);
    for (volatile unsigned long i = 0;; i++) {
    }
    return 0;
}

static void at_exit(void)
{
    printf("atexit handler ran on the exiting thread: %s\n",
           gettid() == exiting_tid ? "yes" : "no");
}

static void *exits_process(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++)
        sem_wait(&blocked);
    exiting_tid = gettid();
    printf("others blocked (cond, read, sleep, spin; main in pthread_join): exit(7)\n");
    exit(7);
}

static int exit_mode(void)
{
    sem_init(&blocked, 0, 0);
    pipe(pipe_fds);
    atexit(at_exit);
    pthread_t t[5];
    void *(*const fns[5])(void *) = {block_in_cond, block_in_read, block_in_sleep,
                                     block_in_spin, exits_process};
    for (int i = 0; i < 5; i++)
        pthread_create(&t[i], 0, fns[i], 0);
    pthread_join(t[0], 0);
    printf("FAIL: the main thread came back from pthread_join\n");
    return 1;
}

/* --- The main thread leaves first ---------------------------------------------------- */

static pthread_t main_thread;

static void *outlives_main(void *arg)
{
    (void)arg;
    void *value = 0;
    int rc = pthread_join(main_thread, &value);
    printf("joined the main thread: %s, its value %ld\n", rc == 0 ? "yes" : "no",
           (long)(intptr_t)value);
    unsigned long work = 0;
    for (unsigned long i = 0; i < 1000; i++)
        work += hash(i);
    printf("the last thread returns (work %s)\n", work ? "done" : "none");
    return 0;
}

static int main_exits_mode(void)
{
    main_thread = pthread_self();
    pthread_t t;
    pthread_create(&t, 0, outlives_main, 0);
    printf("main: pthread_exit\n");
    fflush(stdout);
    pthread_exit((void *)(intptr_t)55);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exit") == 0)
        return exit_mode();
    if (argc > 1 && strcmp(argv[1], "main-exits") == 0)
        return main_exits_mode();
    join_values();
    own_stack_thread();
    detached_threads();
    thread_pool();
    cancellation();
    other_threads_tid();
    printf("lifecycle: %d failures\n", failures);
    return failures;
}
