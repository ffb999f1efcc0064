/* Synchronous signals caught by handlers: SIGSEGV from loads and stores at NULL and below
 * 64 KiB (si_addr, si_code, the faulting pc and registers in the ucontext), recovered with
 * siglongjmp or by moving the pc past the faulting instruction; SIGILL from an illegal
 * encoding and SIGTRAP from ebreak, with si_addr at the instruction.  Exits with its
 * failed checks. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)


static sigjmp_buf env;
static volatile int signo, code, skip;
static volatile uintptr_t addr, pc, s1;

static void on_fault(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    signo = sig;
    code = info->si_code;
    addr = (uintptr_t)info->si_addr;
    pc = uc->uc_mcontext.__gregs[REG_PC];
    s1 = uc->uc_mcontext.__gregs[REG_S1];
    if (skip) {                                     /* resume after the instruction */
        uc->uc_mcontext.__gregs[REG_PC] += skip;
        return;
    }
    siglongjmp(env, 1);
}

/* Each faulting instruction has a label, so the test knows its pc; s1 holds a marker that
 * the handler must find in the ucontext. */
extern char load_at[], store_at[], illegal_at[], ebreak_at[], skip_at[];

static long load(uintptr_t p)
{
    long v;
    asm volatile("li s1, 0x5151\n.globl load_at\nload_at: ld %0, 0(%1)"
                 : "=r"(v) : "r"(p) : "s1", "memory");
    return v;
}

static void store(uintptr_t p)
{
    asm volatile("li s1, 0x5252\n.globl store_at\nstore_at: sw s1, 8(%0)"
                 : : "r"(p) : "s1", "memory");
}

static void install(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | flags;
    CHECK(sigaction(sig, &sa, 0) == 0);
}

static void segv_cases(void)
{
    static const uintptr_t targets[] = {0, 8, 0x1000, 0xfff0};
    install(SIGSEGV, SA_NODEFER);
    for (unsigned i = 0; i < sizeof targets / sizeof *targets; i++) {
        if (sigsetjmp(env, 1) == 0) {
            load(targets[i]);
            CHECK(!"load did not fault");
        }
        CHECK(signo == SIGSEGV && code == SEGV_MAPERR && addr == targets[i]);
        CHECK(pc == (uintptr_t)load_at && s1 == 0x5151);
        if (sigsetjmp(env, 1) == 0) {
            store(targets[i]);
            CHECK(!"store did not fault");
        }
        CHECK(signo == SIGSEGV && addr == targets[i] + 8);
        CHECK(pc == (uintptr_t)store_at && s1 == 0x5252);
    }
    printf("SIGSEGV: %u loads and stores caught\n", 2 * (unsigned)(sizeof targets / sizeof *targets));
}

static void resume_after_fault(void)
{
    long value = 7;
    skip = 4;
    asm volatile(".globl skip_at\nskip_at: ld %0, 0(zero)" : "+r"(value) : : "memory");
    skip = 0;
    CHECK(value == 7 && pc == (uintptr_t)skip_at);
    printf("SIGSEGV: resumed after the faulting load\n");
}

static void wild_jump(void)
{
    void (*volatile nowhere)(void) = (void (*)(void))0x2000;
    if (sigsetjmp(env, 1) == 0)
        nowhere();
    CHECK(signo == SIGSEGV && addr == 0x2000 && pc == 0x2000);
    printf("SIGSEGV: a jump to an unmapped address caught\n");
}

static void illegal(void)
{
    install(SIGILL, 0);
    if (sigsetjmp(env, 1) == 0)
        asm volatile(".globl illegal_at\nillegal_at: .word 0");
    CHECK(signo == SIGILL && code == ILL_ILLOPC && addr == (uintptr_t)illegal_at);
    CHECK(pc == (uintptr_t)illegal_at);
    install(SIGTRAP, 0);
    if (sigsetjmp(env, 1) == 0)
        asm volatile(".globl ebreak_at\nebreak_at: .option push\n.option norvc\nebreak\n.option pop");
    CHECK(signo == SIGTRAP && addr == (uintptr_t)ebreak_at && pc == (uintptr_t)ebreak_at);
    printf("SIGILL and SIGTRAP caught\n");
}

static void blocked_in_mask_restored(void)
{
    sigset_t now;
    sigprocmask(SIG_BLOCK, 0, &now);
    CHECK(!sigismember(&now, SIGSEGV) && !sigismember(&now, SIGILL));
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    segv_cases();
    resume_after_fault();
    wild_jump();
    illegal();
    blocked_in_mask_restored();
    printf("faults: %d failures\n", failures);
    return failures;
}
