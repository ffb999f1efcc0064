/* A well-formed 32-bit encoding that no implemented extension defines (the custom-0 major
 * opcode): SIGILL, 132. */
	.section .rodata
msg:	.ascii "about to execute a custom-0 instruction\n"
	.set msglen, . - msg
	.text
	.globl _start
_start:
	li	a0, 1
	lla	a1, msg
	li	a2, msglen
	li	a7, 64			/* write */
	ecall
	.insn	r 0x0b, 0, 0, a0, a1, a2
	li	a0, 0			/* never reached */
	li	a7, 93
	ecall
