/* The all-zero instruction, defined to be illegal: SIGILL, so the shell sees 132. */
	.section .rodata
msg:	.ascii "about to execute .word 0\n"
	.set msglen, . - msg
	.text
	.globl _start
_start:
	li	a0, 1
	lla	a1, msg
	li	a2, msglen
	li	a7, 64			/* write */
	ecall
	.word	0
	li	a0, 0			/* never reached */
	li	a7, 93
	ecall
