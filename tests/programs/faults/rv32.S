/* Built as a 32-bit RISC-V ELF (-march=rv32imac -mabi=ilp32): a valid program for the wrong
 * ELF class, which a riscv64 loader must refuse. */
	.text
	.globl _start
_start:
	li	a0, 0
	li	a7, 93			/* exit */
	ecall
