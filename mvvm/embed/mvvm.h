/* mvvm.h: what a riscv64 guest program embedded by mvvm.Machine can ask of its host.
 *
 * Host functions are reached by `ecall` with a7 in a range Linux never uses for
 * syscalls: MVVM_ECALL + id. Up to seven integer or pointer arguments go in a0-a6, the
 * result comes back in a0, as for a syscall. The host registers a function by number
 * (1-255: @m.host_function(7)) or by name (@m.host_function("draw"), which the guest
 * reaches as mvvm_id("draw"); with -O1 or more the compiler folds the name to its id).
 */
#ifndef MVVM_H
#define MVVM_H

#define MVVM_ECALL 0x4d560000L          /* "MV" */
#define MVVM_PAUSE 0                    /* mvvm_pause() */
#define MVVM_NAMED_IDS 256              /* ids below are numbered, the rest named */

static inline long mvvm_ecall(long id, long a0, long a1, long a2, long a3, long a4,
                              long a5, long a6)
{
    register long r0 __asm__("a0") = a0;
    register long r1 __asm__("a1") = a1;
    register long r2 __asm__("a2") = a2;
    register long r3 __asm__("a3") = a3;
    register long r4 __asm__("a4") = a4;
    register long r5 __asm__("a5") = a5;
    register long r6 __asm__("a6") = a6;
    register long r7 __asm__("a7") = MVVM_ECALL + id;
    __asm__ volatile("ecall"
                     : "+r"(r0)
                     : "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r6), "r"(r7)
                     : "memory");
    return r0;
}

/* The id of a host function registered by name: FNV-1a of the name, in the named range. */
static inline long mvvm_id(const char *name)
{
    unsigned int hash = 2166136261u;
    while (*name)
        hash = (hash ^ (unsigned char)*name++) * 16777619u;
    return MVVM_NAMED_IDS + hash % (65536 - MVVM_NAMED_IDS);
}

#define mvvm_host0(id) mvvm_ecall((id), 0, 0, 0, 0, 0, 0, 0)
#define mvvm_host1(id, a) mvvm_ecall((id), (long)(a), 0, 0, 0, 0, 0, 0)
#define mvvm_host2(id, a, b) mvvm_ecall((id), (long)(a), (long)(b), 0, 0, 0, 0, 0)
#define mvvm_host3(id, a, b, c) mvvm_ecall((id), (long)(a), (long)(b), (long)(c), 0, 0, 0, 0)
#define mvvm_host4(id, a, b, c, d) \
    mvvm_ecall((id), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0, 0)
#define mvvm_host5(id, a, b, c, d, e) \
    mvvm_ecall((id), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0, 0)
#define mvvm_host6(id, a, b, c, d, e, f) \
    mvvm_ecall((id), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f), 0)
#define mvvm_host7(id, a, b, c, d, e, f, g) \
    mvvm_ecall((id), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f), (long)(g))

/* Hand control back to the host: Machine.run() returns, and the guest's functions can be
 * called. Machine.run() again goes on from here. */
static inline void mvvm_pause(void)
{
    mvvm_ecall(MVVM_PAUSE, 0, 0, 0, 0, 0, 0, 0);
}

#endif
