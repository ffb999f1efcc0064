/* sext.w (addiw rd, rs, 0) where its source holds a sign-extended word, so the
 * translator makes it a copy, and where it does not: a 64-bit sum, a join with a
 * path that leaves a wider value, a call's result, a loop that widens its value
 * after the first pass; and a word that c.mv moves round a loop, a copy again.  Each
 * case that comes out right sets a bit of the exit status: 63 when all do. */
	.text
	.globl _start
_start:
	li	s0, 0
	/* a loop-carried xor of a loaded word and a shifted word: a word every pass */
	lla	a0, data
	li	a1, 8
	li	a5, -1
1:	lw	t0, 0(a0)
	srliw	t1, a5, 8
	xor	a5, t0, t1
	sext.w	a5, a5
	addi	a0, a0, 4
	addi	a1, a1, -1
	bnez	a1, 1b
	li	t6, 0x7f35015b
	bne	a5, t6, 2f
	ori	s0, s0, 1
2:	/* a 64-bit sum is no word */
	li	t2, 0x7fffffff
	add	t3, t2, t2
	sext.w	t4, t3
	li	t6, -2
	bne	t4, t6, 3f
	ori	s0, s0, 2
3:	/* a join: the path that runs (argc is 1) leaves 1 << 40, the other a word */
	ld	a2, 0(sp)
	li	t5, 3
	beqz	a2, 4f
	li	t5, 1
	slli	t5, t5, 40
4:	sext.w	t5, t5
	bnez	t5, 5f
	ori	s0, s0, 4
5:	/* a callee's result */
	call	wide
	sext.w	a0, a0
	li	t6, 5
	bne	a0, t6, 6f
	ori	s0, s0, 8
6:	/* a word on entering the loop, wider after its first pass */
	li	t0, 5
	li	a1, 3
7:	sext.w	t1, t0
	add	t0, t0, t2
	addi	a1, a1, -1
	bnez	a1, 7b
	li	t6, 3
	bne	t1, t6, 8f
	ori	s0, s0, 16
8:	/* a word moved round a loop by c.mv (add rd, x0, rs), as sha256 rotates its
	 * eight variables */
	li	t0, -7
	li	a1, 3
9:	add	t1, zero, t0
	sext.w	t1, t1
	add	t0, zero, t1
	addi	a1, a1, -1
	bnez	a1, 9b
	li	t6, -7
	bne	t1, t6, 10f
	ori	s0, s0, 32
10:	mv	a0, s0
	li	a7, 94			/* exit_group(status) */
	ecall

wide:
	li	a0, 1
	slli	a0, a0, 32
	addi	a0, a0, 5
	ret

	.data
	.balign 4
data:
	.word	0x12345678, 0x9abcdef0, 0x0fedcba9, 0x87654321
	.word	0xdeadbeef, 0x00c0ffee, 0xcafebabe, 0x7fffffff
