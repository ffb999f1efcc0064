/* Start-up object for -static-pie on riscv64, for a glibc (Debian's 2.36 cross libc) that
 * ships no rcrt1.o and whose libc.a has no _dl_relocate_static_pie.
 *
 * gcc -static-pie links this in place of rcrt1.o (tests/conftest.py builds it and passes
 * -B).  _start applies the executable's own dynamic relocations (RELATIVE, 64 and TLS
 * TPREL64, the only kinds a static-pie link leaves), tells libc the load bias through the
 * main link map (its l_addr, which glibc's static start-up would otherwise take as 0), then
 * continues as glibc's riscv crt1 does.  Nothing here may use the GOT before relocation, so
 * the relocator only takes its inputs as arguments and touches no global.
 */
#include <elf.h>
#include <stdint.h>

/* glibc's struct link_namespaces begins with the pointer to the main link_map, whose first
 * field is l_addr. */
extern struct {
    uintptr_t *ns_loaded;
} _dl_ns[] __attribute__((visibility("hidden")));

__attribute__((visibility("hidden"), used)) void
_mvvm_self_relocate(uintptr_t base, const Elf64_Dyn *dyn)
{
    const Elf64_Rela *rela = 0;
    uint64_t relasz = 0;
    const Elf64_Sym *symtab = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_RELA)
            rela = (const Elf64_Rela *)(base + dyn->d_un.d_ptr);
        else if (dyn->d_tag == DT_RELASZ)
            relasz = dyn->d_un.d_val;
        else if (dyn->d_tag == DT_SYMTAB)
            symtab = (const Elf64_Sym *)(base + dyn->d_un.d_ptr);
    }
    for (uint64_t i = 0; rela && i < relasz / sizeof *rela; i++) {
        const Elf64_Rela *r = &rela[i];
        uint64_t *where = (uint64_t *)(base + r->r_offset);
        static const Elf64_Sym no_symbol;
        const Elf64_Sym *sym = symtab ? &symtab[ELF64_R_SYM(r->r_info)] : &no_symbol;
        uint64_t s = sym->st_value;
        if (sym->st_shndx == SHN_UNDEF) /* an undefined weak symbol (or no symbol): 0 */
            s = 0;
        else if (sym->st_shndx != SHN_ABS)
            s += base;
        switch (ELF64_R_TYPE(r->r_info)) {
        case R_RISCV_RELATIVE:
            *where = base + r->r_addend;
            break;
        case R_RISCV_64:
            *where = s + r->r_addend;
            break;
        case R_RISCV_TLS_TPREL64:
            /* static TLS of the executable starts right at tp on riscv */
            *where = sym->st_value + r->r_addend;
            break;
        case R_RISCV_NONE:
            break;
        default: /* IRELATIVE and the rest: not expected in a static PIE of this libc */
            __builtin_trap();
        }
    }
}

__attribute__((visibility("hidden"), used)) void _mvvm_set_load_bias(uintptr_t base)
{
    *_dl_ns[0].ns_loaded = base;
}

__asm__(
    "   .text\n"
    "   .globl _start\n"
    "   .type _start, @function\n"
    "_start:\n"
    "   .cfi_startproc\n"
    "   .cfi_undefined ra\n"
    "   .option push\n"
    "   .option norelax\n"
    "   lla   gp, __global_pointer$\n"
    "   .option pop\n"
    "   mv    s0, a0\n"              /* rtld_fini from the kernel */
    "   mv    s1, sp\n"
    "   lla   s2, __ehdr_start\n"    /* the load bias: the link address of the headers is 0 */
    "   mv    a0, s2\n"
    "   lla   a1, _DYNAMIC\n"
    "   call  _mvvm_self_relocate\n"
    "   mv    a0, s2\n"
    "   call  _mvvm_set_load_bias\n"
    "   mv    a5, s0\n"
    "   lla   a0, main\n"
    "   ld    a1, 0(s1)\n"           /* argc */
    "   addi  a2, s1, 8\n"           /* argv */
    "   andi  sp, s1, -16\n"
    "   li    a3, 0\n"
    "   li    a4, 0\n"
    "   mv    a6, sp\n"
    "   call  __libc_start_main\n"
    "   ebreak\n"
    "   .cfi_endproc\n"
    "   .size _start, .-_start\n");

/* crt1 also provides these; libc refers to them. */
const int _IO_stdin_used = 0x20001;
char __data_start[1] __attribute__((section(".data")));
extern char data_start[1] __attribute__((weak, alias("__data_start")));
