/* A jump table whose entries point one byte past their cases: jalr clears bit 0 of its
 * sum, so each jump lands on its case.  Tier 1 indexes its br_table by the sum's bytes,
 * bit 0 included, so an odd entry must lead where the even one below it does.  A hot
 * loop adds up the cases' numbers; the exit status is the sum's low byte (qemu's). */
	.text
	.globl _start
_start:
	li	s0, 0			/* the sum */
	li	s1, 10000004		/* passes */
	lla	s2, table
loop:
	andi	t0, s1, 3		/* the case, 0 to 3 */
	slli	t0, t0, 3
	add	t0, t0, s2
	ld	t1, 0(t0)
	jr	t1
case0:	addi	s0, s0, 1
	j	next
case1:	addi	s0, s0, 3
	j	next
case2:	addi	s0, s0, 7
	j	next
case3:	addi	s0, s0, 13
next:	addi	s1, s1, -1
	bnez	s1, loop
	andi	a0, s0, 255
	li	a7, 94			/* exit_group(status) */
	ecall

	.data
	.balign 8
table:
	.dword	case0 + 1, case1 + 1, case2 + 1, case3 + 1
