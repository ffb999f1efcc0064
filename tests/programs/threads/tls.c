/* Thread-local storage and thread identity: __thread variables (initialised, zeroed, an
 * array) start with their initial values in every new thread, including threads that reuse
 * an exited thread's stack, and stay private while other threads write theirs; tp and their
 * addresses differ between threads.  pthread_key_create: a new thread's value is NULL, each
 * thread's destructor runs at its exit with that thread's value (also after pthread_exit),
 * not for NULL values, and not for the main thread's value.  pthread_self and gettid are
 * distinct across live threads, getpid is the same in all, and the main thread's tid is the
 * pid.  Prints only facts that do not depend on scheduling.  Exits with its failed checks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static __thread int initialised = 42;
static __thread long zeroed;
static __thread char name[64] = "initial name";
static __thread int id = -1;

static uintptr_t tp(void)
{
    uintptr_t v;
    __asm__("mv %0, tp" : "=r"(v));
    return v;
}

static int fresh(void)
{
    return initialised == 42 && zeroed == 0 && strcmp(name, "initial name") == 0 && id == -1;
}

enum { LIVE = 6 };

struct seen {
    pthread_t self;
    pid_t tid, pid;
    uintptr_t tp;
    void *initialised_at, *name_at;
    int fresh, private_after, key_was_null, key_value_kept;
};

static struct seen seen[LIVE];
static pthread_barrier_t wrote, checked;
static pthread_key_t key;

static int destructor_runs, destructor_sum;
static pthread_mutex_t destructor_lock = PTHREAD_MUTEX_INITIALIZER;

static void destroy(void *value)
{
    pthread_mutex_lock(&destructor_lock);
    destructor_runs++;
    destructor_sum += *(int *)value;
    pthread_mutex_unlock(&destructor_lock);
    free(value);
}

static void *live(void *arg)
{
    int me = (int)(intptr_t)arg;
    struct seen *s = &seen[me];
    s->fresh = fresh();
    s->self = pthread_self();
    s->tid = gettid();
    s->pid = getpid();
    s->tp = tp();
    s->initialised_at = &initialised;
    s->name_at = name;
    s->key_was_null = pthread_getspecific(key) == 0;
    int *value = malloc(sizeof *value);
    *value = 1 << me;
    pthread_setspecific(key, value);

    /* Everyone writes their own copies, then everyone checks theirs are untouched. */
    id = me;
    initialised = 1000 + me;
    zeroed = -me;
    snprintf(name, sizeof name, "thread %d", me);
    pthread_barrier_wait(&wrote);
    char want[64];
    snprintf(want, sizeof want, "thread %d", me);
    s->private_after = id == me && initialised == 1000 + me && zeroed == -me &&
                       strcmp(name, want) == 0;
    s->key_value_kept = pthread_getspecific(key) == value;
    pthread_barrier_wait(&checked);     /* all still alive: their ids are distinct */
    if (me % 2)
        pthread_exit(0);                /* destructors run for pthread_exit too */
    return 0;
}

static void *without_key_value(void *arg)
{
    (void)arg;
    return 0;     /* leaves the key NULL: no destructor call */
}

static int sequential_fresh;

static void *one_after_another(void *arg)
{
    int me = (int)(intptr_t)arg;
    sequential_fresh += fresh();        /* threads run one at a time here */
    id = me;
    initialised = me;
    zeroed = me;
    strcpy(name, "scribbled over");
    return 0;
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    CHECK(fresh());
    CHECK(gettid() == getpid() && syscall(SYS_gettid) == getpid());
    CHECK(pthread_key_create(&key, destroy) == 0);
    int *main_value = malloc(sizeof *main_value);
    *main_value = 1 << 20;
    pthread_setspecific(key, main_value);
    initialised = 7;

    pthread_t threads[LIVE];
    pthread_barrier_init(&wrote, 0, LIVE);
    pthread_barrier_init(&checked, 0, LIVE + 1);
    for (int t = 0; t < LIVE; t++)
        CHECK(pthread_create(&threads[t], 0, live, (void *)(intptr_t)t) == 0);
    pthread_barrier_wait(&checked);

    int distinct = 1, all_fresh = 1, all_private = 1, same_pid = 1, keys = 1, handles = 1;
    for (int a = 0; a < LIVE; a++) {
        struct seen *s = &seen[a];
        all_fresh &= s->fresh;
        all_private &= s->private_after;
        same_pid &= s->pid == getpid();
        keys &= s->key_was_null && s->key_value_kept;
        handles &= pthread_equal(s->self, threads[a]) != 0;
        distinct &= !pthread_equal(s->self, pthread_self()) && s->tid != getpid() &&
                    s->tp != tp() && s->initialised_at != (void *)&initialised &&
                    s->name_at != (void *)name;
        for (int b = 0; b < a; b++)
            distinct &= !pthread_equal(s->self, seen[b].self) && s->tid != seen[b].tid &&
                        s->tp != seen[b].tp && s->initialised_at != seen[b].initialised_at &&
                        s->name_at != seen[b].name_at;
    }
    for (int t = 0; t < LIVE; t++)
        CHECK(pthread_join(threads[t], 0) == 0);
    printf("__thread initial values in new threads: %s\n", all_fresh ? "yes" : "no");
    printf("__thread values private: %s, main's untouched: %s\n", all_private ? "yes" : "no",
           initialised == 7 && id == -1 ? "yes" : "no");
    printf("pthread_self, gettid, tp, __thread addresses distinct: %s\n",
           distinct ? "yes" : "no");
    printf("pthread_create's handle is pthread_self: %s, getpid the same: %s\n",
           handles ? "yes" : "no", same_pid ? "yes" : "no");
    CHECK(all_fresh && all_private && initialised == 7 && id == -1);
    CHECK(distinct && handles && same_pid);

    pthread_t other;
    CHECK(pthread_create(&other, 0, without_key_value, 0) == 0);
    CHECK(pthread_join(other, 0) == 0);
    printf("key: NULL in new threads: %s; destructor runs %d, values 0x%x\n",
           keys ? "yes" : "no", destructor_runs, destructor_sum);
    CHECK(keys && destructor_runs == LIVE && destructor_sum == (1 << LIVE) - 1);
    CHECK(pthread_getspecific(key) == main_value);

    /* Threads one after another (glibc reuses the stacks, and the TLS blocks in them):
     * each starts from the initial values again. */
    enum { SEQUENTIAL = 20 };
    for (int t = 0; t < SEQUENTIAL; t++) {
        CHECK(pthread_create(&other, 0, one_after_another, (void *)(intptr_t)t) == 0);
        CHECK(pthread_join(other, 0) == 0);
    }
    printf("%d threads one after another, each with fresh __thread values: %d\n",
           SEQUENTIAL, sequential_fresh);
    CHECK(sequential_fresh == SEQUENTIAL && initialised == 7);
    CHECK(pthread_key_delete(key) == 0);
    free(main_value);
    printf("tls: %d failures\n", failures);
    return failures;
}
