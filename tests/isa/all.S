/* Every instruction of mvvm.isa.TABLE at least once, plus the operand patterns objdump prints
   as aliases and every compressed form.  Only disassembled (tests/test_isa_objdump.py), never
   run.  Assemble with -march=rv64gc_zba_zbb_zbs_zbc_zbkb_zbkx_zicbom_zicboz. */
        .option norelax
        .text
        .globl  _start
_start:
        .option norvc
/* RV64I */
        lui     a0, 0x12345
        lui     a0, 0x80000
        auipc   a1, 0xfffff
        auipc   t0, 0
        jal     ra, 1f
        jal     zero, 1f
        jal     t1, 1f
1:      jalr    ra, 0(a5)
        jalr    zero, 0(ra)
        jalr    zero, 0(a5)
        jalr    zero, 8(a5)
        jalr    ra, -8(a5)
        jalr    a1, 0(a5)
        jalr    a1, 16(a5)
2:      beq     a0, a1, 2b
        beq     a0, zero, 3f
        bne     a0, a1, 3f
        bne     a0, zero, 2b
        blt     a0, a1, 3f
        blt     a0, zero, 3f
        blt     zero, a0, 3f
        bge     a0, a1, 2b
        bge     a0, zero, 3f
        bge     zero, a0, 3f
        bltu    a0, a1, 3f
        bgeu    a0, a1, 2b
3:      lb      a0, -1(sp)
        lh      a0, 2(sp)
        lw      a0, -2048(sp)
        ld      ra, 8(sp)
        lbu     a0, 2047(a1)
        lhu     a0, 0(a1)
        lwu     a0, 4(a1)
        sb      a0, -1(sp)
        sh      a0, 2(sp)
        sw      a0, 4(sp)
        sd      ra, 8(sp)
        addi    zero, zero, 0
        addi    a0, zero, 0
        addi    a0, zero, -5
        addi    a0, a1, 0
        addi    sp, sp, -16
        slti    a0, a1, -3
        sltiu   a0, a1, 1
        sltiu   a0, a1, 7
        xori    a0, a1, -1
        xori    a0, a1, 5
        ori     a0, a1, 5
        andi    a0, a1, 255
        andi    a0, a1, -16
        slli    a0, a1, 63
        srli    a0, a1, 1
        srai    a0, a1, 32
        add     a0, a1, a2
        sub     a0, a1, a2
        sub     a0, zero, a2
        sll     a0, a1, a2
        slt     a0, a1, a2
        slt     a0, a1, zero
        slt     a0, zero, a2
        sltu    a0, a1, a2
        sltu    a0, zero, a2
        xor     a0, a1, a2
        srl     a0, a1, a2
        sra     a0, a1, a2
        or      a0, a1, a2
        and     a0, a1, a2
        fence
        fence   rw, rw
        fence   r, w
        fence   iorw, ow
        fence.tso
        .insn   i 0x0f, 0, zero, zero, 0x010    /* pause */
        ecall
        ebreak
        addiw   a0, a1, 0
        addiw   a0, a1, -7
        slliw   a0, a1, 31
        srliw   a0, a1, 3
        sraiw   a0, a1, 3
        addw    a0, a1, a2
        subw    a0, a1, a2
        subw    a0, zero, a2
        sllw    a0, a1, a2
        srlw    a0, a1, a2
        sraw    a0, a1, a2
/* Zifencei, Zicsr */
        fence.i
        csrrw   a0, fflags, a1
        csrrw   zero, fflags, a1
        csrrw   a0, frm, a1
        csrrw   zero, frm, a1
        csrrw   a0, fcsr, a1
        csrrw   zero, fcsr, a1
        csrrw   a0, mscratch, a1
        csrrw   zero, 0x800, a1
        csrrs   a0, fflags, zero
        csrrs   a0, frm, zero
        csrrs   a0, fcsr, zero
        csrrs   a0, cycle, zero
        csrrs   a0, time, zero
        csrrs   a0, instret, zero
        csrrs   a0, hpmcounter3, zero
        csrrs   a0, fcsr, a1
        csrrs   zero, fcsr, a1
        csrrc   a0, fcsr, a1
        csrrc   zero, fcsr, a1
        csrrwi  a0, fflags, 1
        csrrwi  a0, frm, 2
        csrrwi  zero, fcsr, 31
        csrrwi  a0, fcsr, 3
        csrrsi  a0, fcsr, 4
        csrrsi  zero, fcsr, 4
        csrrci  a0, fcsr, 5
        csrrci  zero, fcsr, 5
        csrrw   zero, cycle, zero               /* unimp */
/* M */
        mul     a0, a1, a2
        mulh    a0, a1, a2
        mulhsu  a0, a1, a2
        mulhu   a0, a1, a2
        div     a0, a1, a2
        divu    a0, a1, a2
        rem     a0, a1, a2
        remu    a0, a1, a2
        mulw    a0, a1, a2
        divw    a0, a1, a2
        divuw   a0, a1, a2
        remw    a0, a1, a2
        remuw   a0, a1, a2
/* A */
        lr.w    a0, (a1)
        lr.w.aq a0, (a1)
        sc.w    a0, a2, (a1)
        sc.w.rl a0, a2, (a1)
        amoswap.w       a0, a2, (a1)
        amoadd.w.aqrl   a0, a2, (a1)
        amoxor.w        a0, a2, (a1)
        amoand.w        a0, a2, (a1)
        amoor.w         a0, a2, (a1)
        amomin.w        a0, a2, (a1)
        amomax.w        a0, a2, (a1)
        amominu.w       a0, a2, (a1)
        amomaxu.w       a0, a2, (a1)
        lr.d.aqrl       a0, (a1)
        sc.d.aq         a0, a2, (a1)
        amoswap.d.aq    a0, a2, (a1)
        amoadd.d        a0, a2, (a1)
        amoxor.d        a0, a2, (a1)
        amoand.d        a0, a2, (a1)
        amoor.d.rl      a0, a2, (a1)
        amomin.d        a0, a2, (a1)
        amomax.d        a0, a2, (a1)
        amominu.d       a0, a2, (a1)
        amomaxu.d       a0, a2, (a1)
/* F */
        flw     fa0, 4(sp)
        fsw     fa0, -4(sp)
        fmadd.s fa0, fa1, fa2, fa3
        fmsub.s fa0, fa1, fa2, fa3, rne
        fnmsub.s        fa0, fa1, fa2, fa3, rtz
        fnmadd.s        fa0, fa1, fa2, fa3, rdn
        fadd.s  fa0, fa1, fa2
        fsub.s  fa0, fa1, fa2, rup
        fmul.s  fa0, fa1, fa2, rmm
        fdiv.s  fa0, fa1, fa2
        fsqrt.s fa0, fa1
        fsgnj.s fa0, fa1, fa2
        fsgnj.s fa0, fa1, fa1
        fsgnjn.s        fa0, fa1, fa2
        fsgnjn.s        fa0, fa1, fa1
        fsgnjx.s        fa0, fa1, fa2
        fsgnjx.s        fa0, fa1, fa1
        fmin.s  fa0, fa1, fa2
        fmax.s  fa0, fa1, fa2
        fcvt.w.s        a0, fa1, rtz
        fcvt.wu.s       a0, fa1
        fcvt.l.s        a0, fa1, rtz
        fcvt.lu.s       a0, fa1
        fmv.x.w a0, fa1
        feq.s   a0, fa1, fa2
        flt.s   a0, fa1, fa2
        fle.s   a0, fa1, fa2
        fclass.s        a0, fa1
        fcvt.s.w        fa0, a1
        fcvt.s.wu       fa0, a1, rtz
        fcvt.s.l        fa0, a1
        fcvt.s.lu       fa0, a1
        fmv.w.x fa0, a1
/* D */
        fld     fa0, 8(sp)
        fsd     fs0, -8(sp)
        fmadd.d fa0, fa1, fa2, fa3
        fmsub.d fa0, fa1, fa2, fa3
        fnmsub.d        fa0, fa1, fa2, fa3
        fnmadd.d        fa0, fa1, fa2, fa3, rmm
        fadd.d  fa0, fa1, fa2
        fsub.d  fa0, fa1, fa2
        fmul.d  fa0, fa1, fa2, rne
        fdiv.d  fa0, fa1, fa2
        fsqrt.d fa0, fa1, rdn
        fsgnj.d fa0, fa1, fa2
        fsgnj.d fa0, fa1, fa1
        fsgnjn.d        fa0, fa1, fa2
        fsgnjn.d        fa0, fa1, fa1
        fsgnjx.d        fa0, fa1, fa2
        fsgnjx.d        fa0, fa1, fa1
        fmin.d  fa0, fa1, fa2
        fmax.d  fa0, fa1, fa2
        fcvt.s.d        fa0, fa1
        fcvt.s.d        fa0, fa1, rne
        fcvt.d.s        fa0, fa1
        feq.d   a0, fa1, fa2
        flt.d   a0, fa1, fa2
        fle.d   a0, fa1, fa2
        fclass.d        a0, fa1
        fcvt.w.d        a0, fa1, rtz
        fcvt.wu.d       a0, fa1
        fcvt.l.d        a0, fa1
        fcvt.lu.d       a0, fa1, rup
        fcvt.d.w        fa0, a1
        fcvt.d.wu       fa0, a1
        fcvt.d.l        fa0, a1
        fcvt.d.lu       fa0, a1, rtz
        fmv.x.d a0, fa1
        fmv.d.x fa0, a1
/* Zfhmin, Zfh */
        flh     fa0, 2(sp)
        fsh     fs0, -2(sp)
        fmv.x.h a0, fa1
        fmv.h.x fa0, a1
        fcvt.s.h        fa0, fa1
        fcvt.h.s        fa0, fa1
        fcvt.d.h        fa0, fa1
        fcvt.h.d        fa0, fa1, rtz
        fmadd.h fa0, fa1, fa2, fa3
        fmsub.h fa0, fa1, fa2, fa3, rdn
        fnmsub.h        fa0, fa1, fa2, fa3
        fnmadd.h        fa0, fa1, fa2, fa3, rmm
        fadd.h  fa0, fa1, fa2
        fsub.h  fa0, fa1, fa2, rup
        fmul.h  fa0, fa1, fa2, rne
        fdiv.h  fa0, fa1, fa2
        fsqrt.h fa0, fa1, rdn
        fsgnj.h fa0, fa1, fa2
        fsgnj.h fa0, fa1, fa1
        fsgnjn.h        fa0, fa1, fa2
        fsgnjn.h        fa0, fa1, fa1
        fsgnjx.h        fa0, fa1, fa2
        fsgnjx.h        fa0, fa1, fa1
        fmin.h  fa0, fa1, fa2
        fmax.h  fa0, fa1, fa2
        feq.h   a0, fa1, fa2
        flt.h   a0, fa1, fa2
        fle.h   a0, fa1, fa2
        fclass.h        a0, fa1
        fcvt.w.h        a0, fa1, rtz
        fcvt.wu.h       a0, fa1
        fcvt.l.h        a0, fa1
        fcvt.lu.h       a0, fa1, rup
        fcvt.h.w        fa0, a1
        fcvt.h.wu       fa0, a1, rmm
        fcvt.h.l        fa0, a1
        fcvt.h.lu       fa0, a1, rtz
/* Zba */
        add.uw  a0, a1, a2
        add.uw  a0, a1, zero
        sh1add  a0, a1, a2
        sh2add  a0, a1, a2
        sh3add  a0, a1, a2
        sh1add.uw       a0, a1, a2
        sh2add.uw       a0, a1, a2
        sh3add.uw       a0, a1, a2
        slli.uw a0, a1, 3
/* Zbb */
        andn    a0, a1, a2
        orn     a0, a1, a2
        xnor    a0, a1, a2
        clz     a0, a1
        clzw    a0, a1
        ctz     a0, a1
        ctzw    a0, a1
        cpop    a0, a1
        cpopw   a0, a1
        max     a0, a1, a2
        maxu    a0, a1, a2
        min     a0, a1, a2
        minu    a0, a1, a2
        sext.b  a0, a1
        sext.h  a0, a1
        zext.h  a0, a1
        rol     a0, a1, a2
        rolw    a0, a1, a2
        ror     a0, a1, a2
        rorw    a0, a1, a2
        rori    a0, a1, 63
        roriw   a0, a1, 31
        orc.b   a0, a1
        rev8    a0, a1
/* Zbs */
        bclr    a0, a1, a2
        bclri   a0, a1, 63
        bext    a0, a1, a2
        bexti   a0, a1, 1
        binv    a0, a1, a2
        binvi   a0, a1, 40
        bset    a0, a1, a2
        bseti   a0, a1, 0
/* Zbc */
        clmul   a0, a1, a2
        clmulh  a0, a1, a2
        clmulr  a0, a1, a2
/* Zbkb, Zbkx (those Zbb lacks) */
        pack    a0, a1, a2
        packh   a0, a1, a2
        packw   a0, a1, a2
        packw   a0, a1, zero
        brev8   a0, a1
        xperm4  a0, a1, a2
        xperm8  a0, a1, a2
/* Zicbom, Zicboz (not cbo.inval: not for user code) */
        cbo.clean (a0)
        cbo.flush (a1)
        cbo.zero (a2)
/* Zfa (S, D, H), which binutils 2.40 does not know */
        .insn 4, 0xf01a8553    /* fli.s */
        .insn 4, 0x28c5a553    /* fminm.s */
        .insn 4, 0x28c5b553    /* fmaxm.s */
        .insn 4, 0x4045c553    /* fround.s */
        .insn 4, 0x4055c553    /* froundnx.s */
        .insn 4, 0xa0c5c553    /* fleq.s */
        .insn 4, 0xa0c5d553    /* fltq.s */
        .insn 4, 0xf21a8553    /* fli.d */
        .insn 4, 0x2ac5a553    /* fminm.d */
        .insn 4, 0x2ac5b553    /* fmaxm.d */
        .insn 4, 0x4245c553    /* fround.d */
        .insn 4, 0x4255c553    /* froundnx.d */
        .insn 4, 0xa2c5c553    /* fleq.d */
        .insn 4, 0xa2c5d553    /* fltq.d */
        .insn 4, 0xf41a8553    /* fli.h */
        .insn 4, 0x2cc5a553    /* fminm.h */
        .insn 4, 0x2cc5b553    /* fmaxm.h */
        .insn 4, 0x4445c553    /* fround.h */
        .insn 4, 0x4455c553    /* froundnx.h */
        .insn 4, 0xa4c5c553    /* fleq.h */
        .insn 4, 0xa4c5d553    /* fltq.h */
        .insn 4, 0xc2859553    /* fcvtmod.w.d */
/* Zicond, Zawrs, Zimop (every one), which binutils 2.40 does not know */
        .insn r 0x33, 5, 7, a0, a1, a2
        .insn r 0x33, 7, 7, a0, a1, a2
        .insn 4, 0x00d00073
        .insn 4, 0x01d00073
        .insn 4, 0x81c5c573
        .insn 4, 0x81d5c573
        .insn 4, 0x81e5c573
        .insn 4, 0x81f5c573
        .insn 4, 0x85c5c573
        .insn 4, 0x85d5c573
        .insn 4, 0x85e5c573
        .insn 4, 0x85f5c573
        .insn 4, 0x89c5c573
        .insn 4, 0x89d5c573
        .insn 4, 0x89e5c573
        .insn 4, 0x89f5c573
        .insn 4, 0x8dc5c573
        .insn 4, 0x8dd5c573
        .insn 4, 0x8de5c573
        .insn 4, 0x8df5c573
        .insn 4, 0xc1c5c573
        .insn 4, 0xc1d5c573
        .insn 4, 0xc1e5c573
        .insn 4, 0xc1f5c573
        .insn 4, 0xc5c5c573
        .insn 4, 0xc5d5c573
        .insn 4, 0xc5e5c573
        .insn 4, 0xc5f5c573
        .insn 4, 0xc9c5c573
        .insn 4, 0xc9d5c573
        .insn 4, 0xc9e5c573
        .insn 4, 0xc9f5c573
        .insn 4, 0xcdc5c573
        .insn 4, 0xcdd5c573
        .insn 4, 0xcde5c573
        .insn 4, 0xcdf5c573
        .insn 4, 0x82c5c573
        .insn 4, 0x86c5c573
        .insn 4, 0x8ac5c573
        .insn 4, 0x8ec5c573
        .insn 4, 0xc2c5c573
        .insn 4, 0xc6c5c573
        .insn 4, 0xcac5c573
        .insn 4, 0xcec5c573

/* RV64C: every compressed form, written with the c. mnemonics */
        .option rvc
        c.addi4spn      s0, sp, 1020
        c.fld   fa0, 248(a1)
        c.lw    a0, 124(a1)
        c.ld    a0, 248(a1)
        c.fsd   fa0, 8(a1)
        c.sw    a0, 4(a1)
        c.sd    a0, 8(a1)
        c.nop
        c.addi  a0, -32
        c.addi  sp, 31
        c.addiw a0, -1
        c.addiw a0, 0
        c.li    a0, 0
        c.li    a0, -32
        c.addi16sp      sp, -512
        c.addi16sp      sp, 496
        c.lui   a0, 0xfffe0
        c.lui   a0, 0x1f
        c.srli  a0, 63
        c.srai  a0, 1
        c.andi  a0, -1
        c.sub   a0, a1
        c.xor   a0, a1
        c.or    a0, a1
        c.and   a0, a1
        c.subw  a0, a1
        c.addw  a0, a1
4:      c.j     4b
        c.j     5f
        c.beqz  a0, 4b
        c.bnez  a0, 5f
5:      c.slli  a0, 1
        c.fldsp fa0, 504(sp)
        c.lwsp  a0, 252(sp)
        c.ldsp  ra, 8(sp)
        c.jr    a5
        c.jr    ra
        c.mv    a0, a1
        c.ebreak
        c.jalr  a5
        c.add   a0, a1
        c.fsdsp fs0, 504(sp)
        c.swsp  a0, 252(sp)
        c.sdsp  ra, 8(sp)
/* Zcb and Zcmop, which binutils 2.40 does not know: c.lbu a0,3(a1); c.lhu a0,2(a1);
   c.lh a0,2(a1); c.sb a0,3(a1); c.sh a0,2(a1); c.mul a0,a1; c.zext.b, c.sext.b,
   c.zext.h, c.sext.h, c.zext.w, c.not on a0; c.mop.1 .. c.mop.15 */
        .insn 2, 0x81e8
        .insn 2, 0x85a8
        .insn 2, 0x85e8
        .insn 2, 0x89e8
        .insn 2, 0x8da8
        .insn 2, 0x9d4d
        .insn 2, 0x9d61
        .insn 2, 0x9d65
        .insn 2, 0x9d69
        .insn 2, 0x9d6d
        .insn 2, 0x9d71
        .insn 2, 0x9d75
        .insn 2, 0x6081
        .insn 2, 0x6181
        .insn 2, 0x6281
        .insn 2, 0x6381
        .insn 2, 0x6481
        .insn 2, 0x6581
        .insn 2, 0x6681
        .insn 2, 0x6781
