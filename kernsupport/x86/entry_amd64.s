//go:build linux && amd64

#include "textflag.h"

#define kstackSize 65536

// The bare-metal entry. QEMU (or any PVH or Multiboot loader) starts the
// kernel here in 32-bit protected mode, paging off, with EBX holding the
// physical address of the hvm_start_info block (PVH) or of the Multiboot
// information (then EAX holds 0x2BADB002). The Go assembler cannot encode 32-bit code,
// so the first 216 bytes are hand-assembled (the source is testdata/entry32.S,
// checked by TestEntry32Bytes): build page tables at physical 0x80000 identity-mapping
// the low 4 GiB with 2 MiB pages, enable PAE, long mode and paging, load a
// three-entry GDT, and far-return into the 64-bit code that follows. The
// code is position-independent (call/pop); its only fixed addresses are
// the page tables [0x80000, 0x86000), the GDT pointer at 0x86000 and a
// small stack below 0x87000, in conventional memory that neither QEMU's
// PVH nor its Multiboot loader uses (Multiboot's information sits at
// 0x9000) and that the frame allocator never hands out.
TEXT ·pvhEntry(SB),NOSPLIT|NOFRAME,$0
	BYTE $0xfc; BYTE $0x89; BYTE $0xde; BYTE $0x89; BYTE $0xc3; BYTE $0xbc; BYTE $0x00; BYTE $0x70
	BYTE $0x08; BYTE $0x00; BYTE $0xe8; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x5d
	BYTE $0xbf; BYTE $0x00; BYTE $0x00; BYTE $0x08; BYTE $0x00; BYTE $0xb9; BYTE $0x00; BYTE $0x18
	BYTE $0x00; BYTE $0x00; BYTE $0x31; BYTE $0xc0; BYTE $0xf3; BYTE $0xab; BYTE $0xc7; BYTE $0x05
	BYTE $0x00; BYTE $0x00; BYTE $0x08; BYTE $0x00; BYTE $0x03; BYTE $0x10; BYTE $0x08; BYTE $0x00
	BYTE $0xc7; BYTE $0x05; BYTE $0x00; BYTE $0x10; BYTE $0x08; BYTE $0x00; BYTE $0x03; BYTE $0x20
	BYTE $0x08; BYTE $0x00; BYTE $0xc7; BYTE $0x05; BYTE $0x08; BYTE $0x10; BYTE $0x08; BYTE $0x00
	BYTE $0x03; BYTE $0x30; BYTE $0x08; BYTE $0x00; BYTE $0xc7; BYTE $0x05; BYTE $0x10; BYTE $0x10
	BYTE $0x08; BYTE $0x00; BYTE $0x03; BYTE $0x40; BYTE $0x08; BYTE $0x00; BYTE $0xc7; BYTE $0x05
	BYTE $0x18; BYTE $0x10; BYTE $0x08; BYTE $0x00; BYTE $0x03; BYTE $0x50; BYTE $0x08; BYTE $0x00
	BYTE $0xbf; BYTE $0x00; BYTE $0x20; BYTE $0x08; BYTE $0x00; BYTE $0xb8; BYTE $0x83; BYTE $0x00
	BYTE $0x00; BYTE $0x00; BYTE $0xb9; BYTE $0x00; BYTE $0x08; BYTE $0x00; BYTE $0x00; BYTE $0x89
	BYTE $0x07; BYTE $0x05; BYTE $0x00; BYTE $0x00; BYTE $0x20; BYTE $0x00; BYTE $0x83; BYTE $0xc7
	BYTE $0x08; BYTE $0xe2; BYTE $0xf4; BYTE $0x0f; BYTE $0x20; BYTE $0xe0; BYTE $0x83; BYTE $0xc8
	BYTE $0x20; BYTE $0x0f; BYTE $0x22; BYTE $0xe0; BYTE $0xb8; BYTE $0x00; BYTE $0x00; BYTE $0x08
	BYTE $0x00; BYTE $0x0f; BYTE $0x22; BYTE $0xd8; BYTE $0xb9; BYTE $0x80; BYTE $0x00; BYTE $0x00
	BYTE $0xc0; BYTE $0x0f; BYTE $0x32; BYTE $0x0d; BYTE $0x00; BYTE $0x01; BYTE $0x00; BYTE $0x00
	BYTE $0x0f; BYTE $0x30; BYTE $0x0f; BYTE $0x20; BYTE $0xc0; BYTE $0x0d; BYTE $0x01; BYTE $0x00
	BYTE $0x00; BYTE $0x80; BYTE $0x0f; BYTE $0x22; BYTE $0xc0; BYTE $0x66; BYTE $0xc7; BYTE $0x05
	BYTE $0x00; BYTE $0x60; BYTE $0x08; BYTE $0x00; BYTE $0x17; BYTE $0x00; BYTE $0x8d; BYTE $0x85
	BYTE $0xb1; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0xa3; BYTE $0x02; BYTE $0x60; BYTE $0x08
	BYTE $0x00; BYTE $0x0f; BYTE $0x01; BYTE $0x15; BYTE $0x00; BYTE $0x60; BYTE $0x08; BYTE $0x00
	BYTE $0x6a; BYTE $0x08; BYTE $0x8d; BYTE $0x85; BYTE $0xc9; BYTE $0x00; BYTE $0x00; BYTE $0x00
	BYTE $0x50; BYTE $0xcb; BYTE $0x8d; BYTE $0xb6; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x00
	BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x00
	BYTE $0xff; BYTE $0xff; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x9a; BYTE $0xaf; BYTE $0x00
	BYTE $0xff; BYTE $0xff; BYTE $0x00; BYTE $0x00; BYTE $0x00; BYTE $0x92; BYTE $0xcf; BYTE $0x00

	// 64-bit mode, CS = 0x08. RSI holds the start-info address.
	MOVL	$0x10, AX
	MOVW	AX, DS
	MOVW	AX, ES
	MOVW	AX, SS
	MOVW	AX, FS
	MOVW	AX, GS
	LEAQ	·kstack+kstackSize(SB), SP
	MOVL	SI, SI
	MOVQ	SI, ·startInfo(SB)
	MOVL	BX, BX
	MOVQ	BX, ·bootMagic(SB)

	// SSE on (the Go runtime uses it everywhere): CR0.EM off, CR0.MP on,
	// CR4.OSFXSR and OSXMMEXCPT on. XSAVE stays off, so the runtime sees
	// no AVX and saving SSE state with FXSAVE is enough.
	MOVQ	CR0, AX
	ANDQ	$~4, AX
	ORQ	$2, AX
	MOVQ	AX, CR0
	MOVQ	CR4, AX
	ORQ	$0x600, AX
	MOVQ	AX, CR4

	// EFER.SCE: SYSCALL enabled.
	MOVL	$0xC0000080, CX
	RDMSR
	ORL	$1, AX
	WRMSR

	// FS base: a dummy TLS block whose g slot (-8(FS)) is zero, so that
	// the ABI wrappers of the nosplit Go code below load a nil g instead
	// of faulting.
	LEAQ	·dummyTLS+64(SB), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	MOVL	$0xC0000100, CX
	WRMSR

	MOVQ	$1, ·bareMetal(SB)
	CALL	·kinit(SB)

	// Enter the Go runtime as Linux would: on a stack holding argc, argv,
	// envp and auxv (built by kinit), with the thread's context prepared
	// so that the first timer tick finds a valid current thread.
	MOVQ	·userSP(SB), SP
	XORQ	AX, AX
	XORQ	BX, BX
	XORQ	CX, CX
	XORQ	DX, DX
	XORQ	SI, SI
	XORQ	DI, DI
	XORQ	R8, R8
	XORQ	R9, R9
	XORQ	R10, R10
	XORQ	R11, R11
	XORQ	R12, R12
	XORQ	R13, R13
	XORQ	R14, R14
	XORQ	R15, R15
	STI
	JMP	_rt0_amd64_linux(SB)

// syscallEntry is LSTAR: the runtime's SYSCALL instructions land here, in
// ring 0 on the caller's stack, with RCX = return RIP, R11 = RFLAGS and
// interrupts masked (FMASK). It switches to the kernel stack and builds the
// same frame an interrupt does, so that every kernel entry leaves through
// trapCommon's IRETQ.
TEXT ·syscallEntry(SB),NOSPLIT|NOFRAME,$0
	MOVQ	SP, ·scratchSP(SB)
	LEAQ	·kstack+kstackSize(SB), SP
	PUSHQ	$0x10
	PUSHQ	·scratchSP(SB)
	PUSHQ	R11
	PUSHQ	$0x08
	PUSHQ	CX
	PUSHQ	$0
	PUSHQ	$0x100
	JMP	·trapCommon(SB)

// trapCommon saves the general registers under the hardware frame (the
// layout of trapFrame), saves the SSE state of the interrupted code with
// FXSAVE64 (the current thread's area, or a separate one for a trap taken
// inside the kernel), calls trap, and resumes whatever context trap left in
// the frame (another thread's, after a switch).
TEXT ·trapCommon(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	AX
	PUSHQ	BX
	PUSHQ	CX
	PUSHQ	DX
	PUSHQ	SI
	PUSHQ	DI
	PUSHQ	BP
	PUSHQ	R8
	PUSHQ	R9
	PUSHQ	R10
	PUSHQ	R11
	PUSHQ	R12
	PUSHQ	R13
	PUSHQ	R14
	PUSHQ	R15
	MOVQ	·depth(SB), AX
	INCQ	·depth(SB)
	TESTQ	AX, AX
	JNZ	nestedsave
	MOVQ	·curFX(SB), AX
	FXSAVE64	(AX)
	JMP	call
nestedsave:
	LEAQ	·nestFX+15(SB), AX
	ANDQ	$~15, AX
	FXSAVE64	(AX)
call:
	MOVQ	SP, BX
	SUBQ	$32, SP
	ANDQ	$~15, SP
	MOVQ	BX, 0(SP)
	MOVQ	BX, 16(SP)
	CALL	·trap(SB)
	MOVQ	16(SP), SP
	DECQ	·depth(SB)
	MOVQ	·depth(SB), AX
	TESTQ	AX, AX
	JNZ	nestedrestore
	MOVQ	·curFX(SB), AX
	FXRSTOR64	(AX)
	JMP	restore
nestedrestore:
	LEAQ	·nestFX+15(SB), AX
	ANDQ	$~15, AX
	FXRSTOR64	(AX)
restore:
	POPQ	R15
	POPQ	R14
	POPQ	R13
	POPQ	R12
	POPQ	R11
	POPQ	R10
	POPQ	R9
	POPQ	R8
	POPQ	BP
	POPQ	DI
	POPQ	SI
	POPQ	DX
	POPQ	CX
	POPQ	BX
	POPQ	AX
	ADDQ	$16, SP
	IRETQ

// idleLoop is the idle thread: interrupts on, halt until the next one.
TEXT ·idleLoop(SB),NOSPLIT|NOFRAME,$0
again:
	STI
	HLT
	JMP	again

// func outb(port uint16, v uint8)
TEXT ·outb(SB),NOSPLIT,$0-3
	MOVW	port+0(FP), DX
	MOVB	v+2(FP), AX
	OUTB
	RET

// func outl(port uint16, v uint32)
TEXT ·outl(SB),NOSPLIT,$0-8
	MOVW	port+0(FP), DX
	MOVL	v+4(FP), AX
	OUTL
	RET

// func inb(port uint16) uint8
TEXT ·inb(SB),NOSPLIT,$0-9
	MOVW	port+0(FP), DX
	XORL	AX, AX
	INB
	MOVB	AX, ret+8(FP)
	RET

// func rdtsc() uint64
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// func wrmsr(msr uint32, v uint64)
TEXT ·wrmsr(SB),NOSPLIT,$0-16
	MOVL	msr+0(FP), CX
	MOVQ	v+8(FP), AX
	MOVQ	AX, DX
	SHRQ	$32, DX
	WRMSR
	RET

// func readCR2() uint64
TEXT ·readCR2(SB),NOSPLIT,$0-8
	MOVQ	CR2, AX
	MOVQ	AX, ret+0(FP)
	RET

// func readCR3() uint64
TEXT ·readCR3(SB),NOSPLIT,$0-8
	MOVQ	CR3, AX
	MOVQ	AX, ret+0(FP)
	RET

// func writeCR3(v uint64)
TEXT ·writeCR3(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR3
	RET

// func invlpg(addr uint64)
TEXT ·invlpg(SB),NOSPLIT,$0-8
	MOVQ	addr+0(FP), AX
	INVLPG	(AX)
	RET

// func lgdt(p uintptr)
TEXT ·lgdt(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), AX
	LGDT	(AX)
	RET

// func lidt(p uintptr)
TEXT ·lidt(SB),NOSPLIT,$0-8
	MOVQ	p+0(FP), AX
	LIDT	(AX)
	RET

// func ltr(sel uint16)
TEXT ·ltr(SB),NOSPLIT,$0-2
	MOVW	sel+0(FP), AX
	LTR	AX
	RET

// func haltForever()
TEXT ·haltForever(SB),NOSPLIT|NOFRAME,$0
stop:
	CLI
	HLT
	JMP	stop

// func syscallEntryAddr() uintptr
TEXT ·syscallEntryAddr(SB),NOSPLIT,$0-8
	LEAQ	·syscallEntry(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func idleLoopAddr() uintptr
TEXT ·idleLoopAddr(SB),NOSPLIT,$0-8
	LEAQ	·idleLoop(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func pvhEntryAddr() uintptr
TEXT ·pvhEntryAddr(SB),NOSPLIT,$0-8
	LEAQ	·pvhEntry(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·vec0(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$0
	JMP	·trapCommon(SB)
TEXT ·vec1(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$1
	JMP	·trapCommon(SB)
TEXT ·vec2(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$2
	JMP	·trapCommon(SB)
TEXT ·vec3(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$3
	JMP	·trapCommon(SB)
TEXT ·vec4(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$4
	JMP	·trapCommon(SB)
TEXT ·vec5(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$5
	JMP	·trapCommon(SB)
TEXT ·vec6(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$6
	JMP	·trapCommon(SB)
TEXT ·vec7(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$7
	JMP	·trapCommon(SB)
TEXT ·vec8(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$8
	JMP	·trapCommon(SB)
TEXT ·vec9(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$9
	JMP	·trapCommon(SB)
TEXT ·vec10(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$10
	JMP	·trapCommon(SB)
TEXT ·vec11(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$11
	JMP	·trapCommon(SB)
TEXT ·vec12(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$12
	JMP	·trapCommon(SB)
TEXT ·vec13(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$13
	JMP	·trapCommon(SB)
TEXT ·vec14(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$14
	JMP	·trapCommon(SB)
TEXT ·vec15(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$15
	JMP	·trapCommon(SB)
TEXT ·vec16(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$16
	JMP	·trapCommon(SB)
TEXT ·vec17(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$17
	JMP	·trapCommon(SB)
TEXT ·vec18(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$18
	JMP	·trapCommon(SB)
TEXT ·vec19(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$19
	JMP	·trapCommon(SB)
TEXT ·vec20(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$20
	JMP	·trapCommon(SB)
TEXT ·vec21(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$21
	JMP	·trapCommon(SB)
TEXT ·vec22(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$22
	JMP	·trapCommon(SB)
TEXT ·vec23(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$23
	JMP	·trapCommon(SB)
TEXT ·vec24(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$24
	JMP	·trapCommon(SB)
TEXT ·vec25(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$25
	JMP	·trapCommon(SB)
TEXT ·vec26(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$26
	JMP	·trapCommon(SB)
TEXT ·vec27(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$27
	JMP	·trapCommon(SB)
TEXT ·vec28(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$28
	JMP	·trapCommon(SB)
TEXT ·vec29(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$29
	JMP	·trapCommon(SB)
TEXT ·vec30(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$30
	JMP	·trapCommon(SB)
TEXT ·vec31(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$31
	JMP	·trapCommon(SB)
TEXT ·vec32(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$32
	JMP	·trapCommon(SB)
TEXT ·vec33(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$33
	JMP	·trapCommon(SB)
TEXT ·vec34(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$34
	JMP	·trapCommon(SB)
TEXT ·vec35(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$35
	JMP	·trapCommon(SB)
TEXT ·vec36(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$36
	JMP	·trapCommon(SB)
TEXT ·vec37(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$37
	JMP	·trapCommon(SB)
TEXT ·vec38(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$38
	JMP	·trapCommon(SB)
TEXT ·vec39(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$39
	JMP	·trapCommon(SB)
TEXT ·vec40(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$40
	JMP	·trapCommon(SB)
TEXT ·vec41(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$41
	JMP	·trapCommon(SB)
TEXT ·vec42(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$42
	JMP	·trapCommon(SB)
TEXT ·vec43(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$43
	JMP	·trapCommon(SB)
TEXT ·vec44(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$44
	JMP	·trapCommon(SB)
TEXT ·vec45(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$45
	JMP	·trapCommon(SB)
TEXT ·vec46(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$46
	JMP	·trapCommon(SB)
TEXT ·vec47(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	$0
	PUSHQ	$47
	JMP	·trapCommon(SB)

DATA ·vecTable+0(SB)/8, $·vec0(SB)
DATA ·vecTable+8(SB)/8, $·vec1(SB)
DATA ·vecTable+16(SB)/8, $·vec2(SB)
DATA ·vecTable+24(SB)/8, $·vec3(SB)
DATA ·vecTable+32(SB)/8, $·vec4(SB)
DATA ·vecTable+40(SB)/8, $·vec5(SB)
DATA ·vecTable+48(SB)/8, $·vec6(SB)
DATA ·vecTable+56(SB)/8, $·vec7(SB)
DATA ·vecTable+64(SB)/8, $·vec8(SB)
DATA ·vecTable+72(SB)/8, $·vec9(SB)
DATA ·vecTable+80(SB)/8, $·vec10(SB)
DATA ·vecTable+88(SB)/8, $·vec11(SB)
DATA ·vecTable+96(SB)/8, $·vec12(SB)
DATA ·vecTable+104(SB)/8, $·vec13(SB)
DATA ·vecTable+112(SB)/8, $·vec14(SB)
DATA ·vecTable+120(SB)/8, $·vec15(SB)
DATA ·vecTable+128(SB)/8, $·vec16(SB)
DATA ·vecTable+136(SB)/8, $·vec17(SB)
DATA ·vecTable+144(SB)/8, $·vec18(SB)
DATA ·vecTable+152(SB)/8, $·vec19(SB)
DATA ·vecTable+160(SB)/8, $·vec20(SB)
DATA ·vecTable+168(SB)/8, $·vec21(SB)
DATA ·vecTable+176(SB)/8, $·vec22(SB)
DATA ·vecTable+184(SB)/8, $·vec23(SB)
DATA ·vecTable+192(SB)/8, $·vec24(SB)
DATA ·vecTable+200(SB)/8, $·vec25(SB)
DATA ·vecTable+208(SB)/8, $·vec26(SB)
DATA ·vecTable+216(SB)/8, $·vec27(SB)
DATA ·vecTable+224(SB)/8, $·vec28(SB)
DATA ·vecTable+232(SB)/8, $·vec29(SB)
DATA ·vecTable+240(SB)/8, $·vec30(SB)
DATA ·vecTable+248(SB)/8, $·vec31(SB)
DATA ·vecTable+256(SB)/8, $·vec32(SB)
DATA ·vecTable+264(SB)/8, $·vec33(SB)
DATA ·vecTable+272(SB)/8, $·vec34(SB)
DATA ·vecTable+280(SB)/8, $·vec35(SB)
DATA ·vecTable+288(SB)/8, $·vec36(SB)
DATA ·vecTable+296(SB)/8, $·vec37(SB)
DATA ·vecTable+304(SB)/8, $·vec38(SB)
DATA ·vecTable+312(SB)/8, $·vec39(SB)
DATA ·vecTable+320(SB)/8, $·vec40(SB)
DATA ·vecTable+328(SB)/8, $·vec41(SB)
DATA ·vecTable+336(SB)/8, $·vec42(SB)
DATA ·vecTable+344(SB)/8, $·vec43(SB)
DATA ·vecTable+352(SB)/8, $·vec44(SB)
DATA ·vecTable+360(SB)/8, $·vec45(SB)
DATA ·vecTable+368(SB)/8, $·vec46(SB)
DATA ·vecTable+376(SB)/8, $·vec47(SB)
GLOBL ·vecTable(SB), RODATA, $384

// func phys(pa uint64) unsafe.Pointer
// phys turns a physical address into a pointer through the identity map
// (done here so that vet's unsafeptr check does not see a uintptr become a
// pointer: the memory is not Go's heap, so the conversion is sound).
TEXT ·phys(SB),NOSPLIT,$0-16
	MOVQ	pa+0(FP), AX
	MOVQ	AX, ret+8(FP)
	RET

// func linkerEnd() uint64
// linkerEnd is the end of the kernel image: the linker's end symbol, after
// bss and noptrbss.
TEXT ·linkerEnd(SB),NOSPLIT,$0-8
	LEAQ	runtime·end(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
