/* The smallest program: no libc, two system calls.  Writes a line with write(2) and ends
 * with exit_group(42), so both the output and the exit status must come through. */
	.section .rodata
msg:
	.ascii "Hello from riscv64 assembly\n"
	.set msglen, . - msg

	.text
	.globl _start
_start:
	li	a0, 1			/* fd: stdout */
	lla	a1, msg
	li	a2, msglen
	li	a7, 64			/* write */
	ecall
	li	t0, msglen
	bne	a0, t0, 1f		/* a short write exits 1 */
	li	a0, 42
	li	a7, 94			/* exit_group */
	ecall
1:	li	a0, 1
	li	a7, 93			/* exit */
	ecall
