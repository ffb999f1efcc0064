/* A switch as gcc compiles it: a table of 32-bit offsets from the table's own address,
 * read by slli/add/lw/add/jr, with the address loaded (lla) before the hot loop.  Tier 1
 * reads the table while it translates the loop and dispatches on the index itself
 * (mvvm.translator.switches).  Four phases run a loop a million times each: over
 * table1; over table2, which lists the cases in reverse (the base register is not the
 * address the region read its table at, so its check fails and the jump goes the
 * table's way); a second loop over table1 whose index an lwu loads (below 2**32, so the
 * region leaves its range check to the br_table); and the first loop over table1 again
 * after mprotect made its page writable and its first entry was rewritten, which must
 * send index 0 to the new case.  The exit status is the sum's low byte (qemu's).
 * With an argument, the first phase is followed by one pass whose index is 2**32 + 1:
 * the guest's lw of that entry faults (SIGSEGV), and the region must not take the index
 * for 1, its low 32 bits.
 * With -DOTHER_TABLE, table1's second entry is case2's offset: the code is the same, and
 * so is every page but the tables' one, which is neither the first nor the last of the
 * text (the disk cache's key samples those), so a region cached from one build must not
 * run for the other. */
	.text
	.globl _start
_start:
	li	s0, 0			/* the sum */
	li	s4, 0			/* added to each index */
	lla	s2, table1
	call	run
	ld	t0, 0(sp)		/* argc */
	li	t1, 1
	bne	t0, t1, wild
	lla	s2, table2
	call	run
	lla	s3, order
	call	run_loaded
	lla	a0, table1		/* the tables' page, writable */
	li	a1, 4096
	li	a2, 3			/* PROT_READ | PROT_WRITE */
	li	a7, 226			/* mprotect */
	ecall
	bnez	a0, fail
	lla	t0, table1
	lla	t1, case3
	sub	t1, t1, t0
	sw	t1, 0(t0)		/* index 0: case3 from now on */
	lla	a0, table1
	li	a1, 4096
	li	a2, 5			/* PROT_READ | PROT_EXEC again */
	li	a7, 226
	ecall
	bnez	a0, fail
	lla	s2, table1
	call	run
	andi	a0, s0, 255
	li	a7, 94			/* exit_group(status) */
	ecall
fail:
	li	a0, 1
	li	a7, 94
	ecall
wild:
	li	s4, 1
	slli	s4, s4, 32
	li	s1, 1
	call	passes
	li	a0, 2			/* the wild index was taken for another */
	li	a7, 94
	ecall

run:					/* a million passes over the table at s2 */
	li	s5, 0			/* back to passes after each case */
	li	s1, 1000004
passes:					/* s1 passes */
	andi	t0, s1, 3		/* the case's index, 0 to 3, plus s4 */
	add	t0, t0, s4
	slli	a5, t0, 2
	add	a5, a5, s2
	lw	a5, 0(a5)
	add	a5, a5, s2
	jr	a5
case0:	li	t1, 2			/* each case's amount, added at tally */
	j	tally
case1:	li	t1, 5
	j	tally
case2:	li	t1, 11
	j	tally
case3:	li	t1, 17
tally:	add	s0, s0, t1
	addi	s1, s1, -1
	beqz	s1, 1f
	bnez	s5, loaded
	j	passes
1:	ret

run_loaded:				/* a million passes over table1, indexes from s3 */
	li	s5, 1			/* back to loaded after each case */
	li	s1, 1000004
	lla	s2, table1
loaded:
	andi	t0, s1, 3
	slli	t0, t0, 2
	add	t0, t0, s3
	lwu	t0, 0(t0)		/* order[s1 & 3] */
	slli	a5, t0, 2
	add	a5, a5, s2
	lw	a5, 0(a5)
	add	a5, a5, s2
	jr	a5

	.balign	4096
table1:	.word	case0 - table1
#ifdef OTHER_TABLE
	.word	case2 - table1
#else
	.word	case1 - table1
#endif
	.word	case2 - table1, case3 - table1
table2:	.word	case3 - table2, case2 - table2, case1 - table2, case0 - table2
order:	.word	3, 1, 0, 2
	.balign	4096
	.skip	4096			/* a last page after the tables' */
