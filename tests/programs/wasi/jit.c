/* Code written at run time: a function assembled into an executable mapping (compressed
   and full-size instructions), called, rewritten in place, and called again; then a
   function of the program itself patched in its own text. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static const uint16_t CODE[] = {
    0x4555,             /* c.li   a0, 21 */
    0x952a,             /* c.add  a0, a0 */
    0x0513, 0x0015,     /* addi   a0, a0, 1 */
    0x8082,             /* c.ret */
};

__attribute__((noinline)) long seven(void) { return 7; }

int main(void) {
    uint16_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return 1;
    memcpy(code, CODE, sizeof CODE);
    __builtin___clear_cache((char *)code, (char *)code + sizeof CODE);
    long (*function)(void) = (long (*)(void))code;
    printf("first: %ld\n", function());
    code[3] = 0x0025;   /* addi a0, a0, 2 */
    __builtin___clear_cache((char *)code, (char *)code + sizeof CODE);
    printf("rewritten: %ld\n", function());

    long (*volatile own)(void) = seven;
    printf("own: %ld\n", own());
    uint16_t *text = (uint16_t *)(uintptr_t)seven;
    if (*text != 0x451d) {          /* c.li a0, 7 */
        printf("unexpected code %04x\n", *text);
        return 2;
    }
    uintptr_t page = (uintptr_t)text & ~(uintptr_t)4095;
    if (mprotect((void *)page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC))
        return 3;
    *text = 0x4525;     /* c.li a0, 9 */
    __builtin___clear_cache((char *)text, (char *)text + 2);
    printf("own, patched: %ld\n", own());
    return 0;
}
