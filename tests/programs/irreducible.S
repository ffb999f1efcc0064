/* Control flow that structured wasm cannot express directly: a loop with two entries
 * (irreducible), entered at either one depending on the input, plus a call through a
 * register inside the loop and a second loop around it.  The exit status is a checksum
 * that differs if any edge is taken wrongly. */
	.text
	.globl _start
_start:
	li	s0, 0			/* checksum */
	li	s1, 0			/* outer counter */
outer:
	andi	t0, s1, 1
	li	s2, 7			/* inner trip count */
	bnez	t0, second		/* odd rounds enter the loop in its middle */
first:
	addi	s0, s0, 3
	slli	s0, s0, 1
	andi	s0, s0, 0x7ff
second:
	lla	t1, mix
	jalr	t1			/* an indirect call inside the irreducible loop */
	addi	s2, s2, -1
	bnez	s2, first
	addi	s1, s1, 1
	li	t2, 9
	blt	s1, t2, outer
	andi	a0, s0, 0xff
	li	a7, 94			/* exit_group(checksum) */
	ecall

mix:
	xori	s0, s0, 0x55
	addi	s0, s0, 1
	ret
