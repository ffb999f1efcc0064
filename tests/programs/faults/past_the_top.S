/* A load whose base register is the last guest address and whose offset reaches past the
 * top of the address space (Sv39's 256 GiB): SIGSEGV, so the shell sees 139. MVVM checks
 * the base alone against the top and leaves the offset to its guard pages. */
	.section .rodata
msg:	.ascii "about to load past the top of the address space\n"
	.set msglen, . - msg
	.text
	.globl _start
_start:
	li	a0, 1
	lla	a1, msg
	li	a2, msglen
	li	a7, 64			/* write */
	ecall
	li	a1, 1
	slli	a1, a1, 38
	addi	a1, a1, -1		/* 0x3f_ffff_ffff */
	ld	a0, 2040(a1)
	li	a7, 93			/* never reached */
	ecall
