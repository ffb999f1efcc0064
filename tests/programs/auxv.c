/* The process start-up state: argc/argv (including empty and odd arguments), the
 * environment (a variable the harness sets, one it does not), and the auxiliary vector:
 * page size, hardware capabilities, ids, AT_RANDOM, AT_ENTRY against _start, AT_PHDR and
 * AT_PHNUM walked to find the PT_LOAD segments.  Addresses are never printed, only
 * comparisons of them.  Exits with argc, so the harness sees argv reach main.
 */
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char _start[];
extern const ElfW(Ehdr) __ehdr_start;

static int failures;

static void check(const char *what, long long got, long long want)
{
    printf("%s = %lld\n", what, got);
    if (got != want) {
        failures++;
        printf("FAIL %s: got %lld want %lld\n", what, got, want);
    }
}

static void print_quoted(const char *s)
{
    putchar('[');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f)
            putchar(*p);
        else
            printf("\\x%02x", *p);
    }
    putchar(']');
}

int main(int argc, char **argv, char **envp)
{
    printf("argc = %d\n", argc);
    for (int i = 1; i < argc; i++) {
        printf("argv[%d] = ", i);
        print_quoted(argv[i]);
        printf(" (%zu bytes)\n", strlen(argv[i]));
    }
    check("argv[argc] is NULL", argv[argc] == NULL, 1);
    check("envp follows argv", envp == argv + argc + 1, 1);

    const char *v = getenv("MVVM_TEST_VAR");
    printf("MVVM_TEST_VAR = ");
    print_quoted(v ? v : "(unset)");
    printf("\n");
    printf("MVVM_UNSET_VAR is %s\n", getenv("MVVM_UNSET_VAR") ? "set" : "unset");
    int in_envp = 0;
    for (char **e = envp; *e; e++)
        in_envp += strncmp(*e, "MVVM_TEST_VAR=", 14) == 0;
    check("MVVM_TEST_VAR entries in envp", in_envp, 1);
    setenv("MVVM_NEW", "fresh", 1);
    printf("setenv then getenv: %s\n", getenv("MVVM_NEW"));

    check("AT_PAGESZ", (long long)getauxval(AT_PAGESZ), 4096);
    check("sysconf(_SC_PAGESIZE)", sysconf(_SC_PAGESIZE), 4096);
    printf("AT_HWCAP = %#lx\n", getauxval(AT_HWCAP));
    unsigned long hw = getauxval(AT_HWCAP);
    printf("AT_HWCAP letters:");
    for (int b = 0; b < 26; b++)
        if (hw & (1ul << b))
            printf(" %c", 'a' + b);
    printf("\n");
    check("AT_UID is getuid", getauxval(AT_UID) == (unsigned long)getuid(), 1);
    check("AT_EUID is geteuid", getauxval(AT_EUID) == (unsigned long)geteuid(), 1);
    check("AT_GID is getgid", getauxval(AT_GID) == (unsigned long)getgid(), 1);
    check("AT_EGID is getegid", getauxval(AT_EGID) == (unsigned long)getegid(), 1);
    printf("AT_UID = %lu, AT_GID = %lu\n", getauxval(AT_UID), getauxval(AT_GID));
    check("AT_SECURE", (long long)getauxval(AT_SECURE), 0);
    check("AT_CLKTCK", (long long)getauxval(AT_CLKTCK), 100);
    check("AT_BASE (no interpreter)", (long long)getauxval(AT_BASE), 0);

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    check("AT_RANDOM present", rnd != NULL, 1);
    if (rnd) {
        unsigned or_all = 0;
        for (int i = 0; i < 16; i++) /* must be readable, 16 bytes */
            or_all |= rnd[i];
        check("AT_RANDOM bytes not all zero", or_all != 0, 1);
    }
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    check("AT_EXECFN is argv[0]", execfn && strcmp(execfn, argv[0]) == 0, 1);

    check("AT_ENTRY is _start", getauxval(AT_ENTRY) == (unsigned long)_start, 1);
    const ElfW(Phdr) *phdr = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    unsigned long phnum = getauxval(AT_PHNUM);
    check("AT_PHENT", (long long)getauxval(AT_PHENT), sizeof(ElfW(Phdr)));
    check("AT_PHNUM is e_phnum", phnum == __ehdr_start.e_phnum, 1);
    check("AT_PHDR is the loaded headers",
          phdr == (const ElfW(Phdr) *)((const char *)&__ehdr_start + __ehdr_start.e_phoff), 1);
    /* the load bias: 0 for -static, where the image was put for -static-pie */
    uintptr_t bias = (uintptr_t)&__ehdr_start;
    printf("ELF type %s\n", __ehdr_start.e_type == ET_DYN ? "ET_DYN" : "ET_EXEC");
    if (__ehdr_start.e_type == ET_EXEC)
        bias = 0;
    int loads = 0, exec_loads = 0, main_in_text = 0, tls = 0;
    for (unsigned long i = 0; phdr && i < phnum; i++) {
        if (phdr[i].p_type == PT_TLS)
            tls++;
        if (phdr[i].p_type != PT_LOAD)
            continue;
        loads++;
        uintptr_t lo = bias + phdr[i].p_vaddr, hi = lo + phdr[i].p_memsz;
        printf("PT_LOAD %d: flags %c%c%c, memsz >= filesz %d\n", loads,
               phdr[i].p_flags & PF_R ? 'r' : '-', phdr[i].p_flags & PF_W ? 'w' : '-',
               phdr[i].p_flags & PF_X ? 'x' : '-', phdr[i].p_memsz >= phdr[i].p_filesz);
        if (phdr[i].p_flags & PF_X) {
            exec_loads++;
            main_in_text += (uintptr_t)main >= lo && (uintptr_t)main < hi;
        }
    }
    check("PT_LOAD segments found", loads >= 2, 1);
    check("executable PT_LOAD segments", exec_loads, 1);
    check("main inside the executable segment", main_in_text, 1);
    check("PT_TLS segments", tls, 1);

    /* a few other values qemu provides; print what they are */
    printf("AT_FLAGS = %lu, AT_HWCAP2 = %#lx\n", getauxval(AT_FLAGS), getauxval(AT_HWCAP2));
    printf("auxv: %d failures\n", failures);
    return failures ? 100 + failures : argc;
}
