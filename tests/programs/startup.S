/* The initial process stack as the kernel lays it out, read with no libc in the way:
 * argc at sp, then argv[] and NULL, envp[] and NULL, then the (type, value) pairs of the
 * auxiliary vector up to AT_NULL.  Prints argc, the arguments after argv[0], whether sp is
 * 16-byte aligned, whether MVVM_TEST_VAR is in the environment, AT_PAGESZ, and whether
 * AT_ENTRY is _start and AT_PHDR lies in the image.  Exits with argc.
 *
 * Registers: s0 = initial sp, s1 = argc, s2 = argv, s3 = envp, s4 = auxv.
 */
	.section .rodata
s_argc:	.asciz "argc "
s_argv:	.asciz "argv: "
s_nl:	.asciz "\n"
s_alig:	.asciz "sp % 16 = "
s_env:	.asciz "MVVM_TEST_VAR present: "
s_page:	.asciz "AT_PAGESZ "
s_entr:	.asciz "AT_ENTRY is _start: "
s_phdr:	.asciz "AT_PHDR inside the image: "
s_auxn:	.asciz "auxv has AT_NULL: "
var:	.asciz "MVVM_TEST_VAR="

	.text
	.globl _start
_start:
	mv	s0, sp
	ld	s1, 0(sp)
	addi	s2, sp, 8
	slli	t0, s1, 3
	add	s3, s2, t0
	addi	s3, s3, 8		/* past argv's NULL */
	mv	t0, s3
1:	ld	t1, 0(t0)
	addi	t0, t0, 8
	bnez	t1, 1b
	mv	s4, t0			/* past envp's NULL */

	lla	a0, s_argc
	call	puts_
	mv	a0, s1
	call	putdec
	call	newline

	addi	s5, s2, 8		/* argv[0] is the path of the binary: skip it */
2:	ld	s6, 0(s5)
	beqz	s6, 3f
	lla	a0, s_argv
	call	puts_
	mv	a0, s6
	call	puts_
	call	newline
	addi	s5, s5, 8
	j	2b
3:
	lla	a0, s_alig
	call	puts_
	andi	a0, s0, 15
	call	putdec
	call	newline

	/* look for MVVM_TEST_VAR= as a prefix of an environment string */
	li	s7, 0
	mv	s5, s3
4:	ld	s6, 0(s5)
	beqz	s6, 7f
	lla	t2, var
	mv	t3, s6
5:	lbu	t4, 0(t2)
	beqz	t4, 6f			/* whole prefix matched */
	lbu	t5, 0(t3)
	bne	t4, t5, 8f
	addi	t2, t2, 1
	addi	t3, t3, 1
	j	5b
6:	li	s7, 1
	j	7f
8:	addi	s5, s5, 8
	j	4b
7:	lla	a0, s_env
	call	puts_
	mv	a0, s7
	call	putdec
	call	newline

	/* walk auxv: s5 = pagesz, s6 = entry, s7 = phdr, s8 = 1 once AT_NULL is seen */
	li	s5, 0
	li	s6, 0
	li	s7, 0
	li	s8, 0
	mv	t0, s4
	li	s9, 512			/* give up after this many entries */
9:	ld	t1, 0(t0)
	ld	t2, 8(t0)
	beqz	t1, 12f
	li	t3, 6			/* AT_PAGESZ */
	bne	t1, t3, 10f
	mv	s5, t2
10:	li	t3, 9			/* AT_ENTRY */
	bne	t1, t3, 11f
	mv	s6, t2
11:	li	t3, 3			/* AT_PHDR */
	bne	t1, t3, 13f
	mv	s7, t2
13:	addi	t0, t0, 16
	addi	s9, s9, -1
	bnez	s9, 9b
	j	14f
12:	li	s8, 1
14:
	lla	a0, s_auxn
	call	puts_
	mv	a0, s8
	call	putdec
	call	newline
	lla	a0, s_page
	call	puts_
	mv	a0, s5
	call	putdec
	call	newline
	lla	a0, s_entr
	call	puts_
	lla	t0, _start
	sub	t0, t0, s6
	seqz	a0, t0
	call	putdec
	call	newline
	lla	a0, s_phdr
	call	puts_
	lla	t0, __ehdr_start
	lla	t1, _end
	sltu	t2, s7, t0		/* phdr < start */
	sltu	t3, s7, t1		/* phdr < end */
	xori	t2, t2, 1
	and	a0, t2, t3
	call	putdec
	call	newline

	mv	a0, s1
	li	a7, 94			/* exit_group(argc) */
	ecall

/* puts_(a0 = NUL-terminated string): write it to stdout, no newline */
puts_:
	mv	a1, a0
	mv	a2, a0
1:	lbu	t0, 0(a2)
	beqz	t0, 2f
	addi	a2, a2, 1
	j	1b
2:	sub	a2, a2, a1
	li	a0, 1
	li	a7, 64
	ecall
	ret

newline:
	lla	a0, s_nl
	j	puts_

/* putdec(a0 = unsigned value): write it in decimal */
putdec:
	addi	sp, sp, -32
	sd	ra, 24(sp)
	addi	a1, sp, 23		/* fill sp[0..23] backwards */
	sb	zero, 0(a1)
	li	t1, 10
1:	remu	t2, a0, t1
	divu	a0, a0, t1
	addi	t2, t2, '0'
	addi	a1, a1, -1
	sb	t2, 0(a1)
	bnez	a0, 1b
	mv	a0, a1
	call	puts_
	ld	ra, 24(sp)
	addi	sp, sp, 32
	ret
