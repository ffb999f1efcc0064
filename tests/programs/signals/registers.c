/* Every integer and FP register, and fcsr, survive a signal handler that clobbers them:
 * rt_sigreturn restores the state saved in the frame.  Once with the signal sent by a
 * syscall (tgkill), once with SIGALRM from an interval timer arriving while the program
 * spins in a loop, in translated code.  Then the frame of a signal that stops a loop holds
 * the registers as they were at the saved pc, a temporary included.  Exits with its failed
 * checks. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

long fp_mismatches;
volatile int stop_spinning;

/* PATTERN(n) is register n's value; both functions return a mask of the integer registers
 * that changed (bit 0: frm, bit 1: fflags, bit 2: sp) and put the FP one in fp_mismatches. */
#define REGS_SAVE \
    "addi sp, sp, -224\n sd ra, 0(sp)\n sd s0, 8(sp)\n sd s1, 16(sp)\n sd s2, 24(sp)\n" \
    "sd s3, 32(sp)\n sd s4, 40(sp)\n sd s5, 48(sp)\n sd s6, 56(sp)\n sd s7, 64(sp)\n" \
    "sd s8, 72(sp)\n sd s9, 80(sp)\n sd s10, 88(sp)\n sd s11, 96(sp)\n" \
    "fsd fs0, 104(sp)\n fsd fs1, 112(sp)\n fsd fs2, 120(sp)\n fsd fs3, 128(sp)\n" \
    "fsd fs4, 136(sp)\n fsd fs5, 144(sp)\n fsd fs6, 152(sp)\n fsd fs7, 160(sp)\n" \
    "fsd fs8, 168(sp)\n fsd fs9, 176(sp)\n fsd fs10, 184(sp)\n fsd fs11, 192(sp)\n" \
    "sd sp, 200(sp)\n"
#define REGS_RESTORE \
    "ld ra, 0(sp)\n ld s0, 8(sp)\n ld s1, 16(sp)\n ld s2, 24(sp)\n ld s3, 32(sp)\n" \
    "ld s4, 40(sp)\n ld s5, 48(sp)\n ld s6, 56(sp)\n ld s7, 64(sp)\n ld s8, 72(sp)\n" \
    "ld s9, 80(sp)\n ld s10, 88(sp)\n ld s11, 96(sp)\n" \
    "fld fs0, 104(sp)\n fld fs1, 112(sp)\n fld fs2, 120(sp)\n fld fs3, 128(sp)\n" \
    "fld fs4, 136(sp)\n fld fs5, 144(sp)\n fld fs6, 152(sp)\n fld fs7, 160(sp)\n" \
    "fld fs8, 168(sp)\n fld fs9, 176(sp)\n fld fs10, 184(sp)\n fld fs11, 192(sp)\n" \
    "addi sp, sp, 224\n ret\n"

asm(".macro set_fp n\n li t0, 0x3ff0000000000000 + \\n * 0x111\n fmv.d.x f\\n, t0\n .endm\n"
    ".macro set_x n\n li x\\n, 0x5a5a000000000000 + \\n * 0x10101\n .endm\n"
    ".macro check_x n\n li ra, 0x5a5a000000000000 + \\n * 0x10101\n xor ra, ra, x\\n\n"
    " snez ra, ra\n slli ra, ra, \\n\n or a0, a0, ra\n .endm\n"
    ".macro check_fp n\n li t0, 0x3ff0000000000000 + \\n * 0x111\n fmv.x.d ra, f\\n\n"
    " xor ra, ra, t0\n snez ra, ra\n slli ra, ra, \\n\n or t1, t1, ra\n .endm\n"
    ".macro set_all\n"
    " .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    " set_fp \\n\n .endr\n"
    " csrwi frm, 3\n csrwi fflags, 0x15\n"
    " .irp n, 5,6,7,8,9,13,14,15,16,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n set_x \\n\n .endr\n"
    ".endm\n"
    ".macro check_all\n"
    " li a0, 0\n"
    " .irp n, 5,6,7,8,9,13,14,15,16,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n check_x \\n\n .endr\n"
    " li t1, 0\n"
    " .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    " check_fp \\n\n .endr\n"
    " frrm t2\n addi t2, t2, -3\n snez t2, t2\n or a0, a0, t2\n"
    " frflags t2\n addi t2, t2, -0x15\n snez t2, t2\n slli t2, t2, 1\n or a0, a0, t2\n"
    " ld t2, 200(sp)\n sub t2, t2, sp\n snez t2, t2\n slli t2, t2, 2\n or a0, a0, t2\n"
    " la t2, fp_mismatches\n sd t1, 0(t2)\n"
    ".endm\n");

/* tgkill(pid, tid, sig) with the patterns in every other register. */
long signal_with_patterns(long pid, long tid, long sig);
asm(".text\n.globl signal_with_patterns\nsignal_with_patterns:\n" REGS_SAVE
    " set_all\n li a7, 131\n ecall\n check_all\n" REGS_RESTORE);

/* Spin until stop_spinning is set, with the patterns in the registers. */
long spin_with_patterns(void);
asm(".text\n.globl spin_with_patterns\nspin_with_patterns:\n" REGS_SAVE
    " set_all\n la a0, stop_spinning\n"
    "1: lw a1, 0(a0)\n beqz a1, 1b\n"
    " li a1, 0x5a5a000000000000 + 11 * 0x10101\n li a0, 0x5a5a000000000000 + 10 * 0x10101\n"
    " check_all\n" REGS_RESTORE);

/* Spin until stop_spinning is set, counting in t0, with t1 = 2 * t0 written late in each
 * round and dead where the round starts: wherever SIGALRM stops the loop, the saved t1 must
 * be the one that goes with the saved t0 and pc. */
void spin_counting(void);
extern char spin_counting_head[], spin_counting_double[];
asm(".text\n.globl spin_counting, spin_counting_head, spin_counting_double\n"
    "spin_counting:\n la a0, stop_spinning\n li t0, 0\n li t1, 0\n"
    "spin_counting_head:\n lw a1, 0(a0)\n addi t0, t0, 1\n"
    "spin_counting_double:\n slli t1, t0, 1\n beqz a1, spin_counting_head\n ret\n");

static volatile int handled;
static volatile long counted, doubled_seen, doubled_expected;

static void observe(int sig, siginfo_t *info, void *context)
{
    (void)sig, (void)info;
    mcontext_t *saved = &((ucontext_t *)context)->uc_mcontext;
    long pc = (long)saved->__gregs[0], t0 = (long)saved->__gregs[5];
    counted = t0;
    doubled_seen = (long)saved->__gregs[6];
    doubled_expected = 2 * (pc == (long)spin_counting_double ? t0 - 1 : t0);
    handled++;
    stop_spinning = 1;
}

static void clobber(int sig)
{
    /* Every caller-saved register, and fcsr, gets a new value here. */
    asm volatile(".irp n, 0,1,2,3,4,5,6,7,10,11,12,13,14,15,16,17,28,29,30,31\n"
                 " fmv.d.x f\\n, zero\n .endr\n"
                 " li t0, -1\n li t1, -1\n li t2, -1\n li a0, -1\n li a1, -1\n li a2, -1\n"
                 " li a3, -1\n li a4, -1\n li a5, -1\n li a6, -1\n li a7, -1\n"
                 " li t3, -1\n li t4, -1\n li t5, -1\n li t6, -1\n"
                 " csrwi frm, 1\n csrwi fflags, 0\n"
                 ::: "t0", "t1", "t2", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
                     "t3", "t4", "t5", "t6", "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6",
                     "ft7", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7", "ft8",
                     "ft9", "ft10", "ft11", "memory");
    handled++;
    if (sig == SIGALRM)
        stop_spinning = 1;
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    signal(SIGUSR1, clobber);
    long changed = signal_with_patterns(getpid(), gettid(), SIGUSR1);
    CHECK(handled == 1);
    CHECK(changed == 0 && fp_mismatches == 0);
    if (changed || fp_mismatches)
        printf("after tgkill: integer mask %#lx, FP mask %#lx\n", changed, fp_mismatches);

    signal(SIGALRM, clobber);
    struct itimerval timer = {.it_interval = {0, 0}, .it_value = {0, 20000}};
    CHECK(setitimer(ITIMER_REAL, &timer, 0) == 0);
    changed = spin_with_patterns();
    CHECK(handled == 2);
    CHECK(changed == 0 && fp_mismatches == 0);
    if (changed || fp_mismatches)
        printf("after SIGALRM: integer mask %#lx, FP mask %#lx\n", changed, fp_mismatches);
    struct sigaction action = {.sa_sigaction = observe, .sa_flags = SA_SIGINFO};
    CHECK(sigaction(SIGALRM, &action, 0) == 0);
    stop_spinning = 0;
    CHECK(setitimer(ITIMER_REAL, &timer, 0) == 0);
    spin_counting();
    CHECK(handled == 3 && counted > 0);
    CHECK(doubled_seen == doubled_expected);
    if (doubled_seen != doubled_expected)
        printf("in the counting loop: t0 %ld, t1 %ld\n", counted, doubled_seen);
    printf("registers: %d failures\n", failures);
    return failures;
}
