/* ebreak with no debugger: SIGTRAP, so the shell sees 133. */
	.section .rodata
msg:	.ascii "about to execute ebreak\n"
	.set msglen, . - msg
	.text
	.globl _start
_start:
	li	a0, 1
	lla	a1, msg
	li	a2, msglen
	li	a7, 64			/* write */
	ecall
	ebreak
	li	a0, 0			/* never reached */
	li	a7, 93
	ecall
