#include "textflag.h"

// func hwdiv(a, b int64) int64: a hardware IDIV, which faults (#DE) on a
// zero divisor where Go's own division would check first.
TEXT ·hwdiv(SB),NOSPLIT,$0-24
	MOVQ	a+0(FP), AX
	MOVQ	b+8(FP), CX
	CQO
	IDIVQ	CX
	MOVQ	AX, ret+16(FP)
	RET
