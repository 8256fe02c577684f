	.code32
start:
	cld
	movl %ebx, %esi          /* boot information: PVH start info or Multiboot info */
	movl %eax, %ebx          /* Multiboot's magic (PVH leaves EAX undefined) */
	movl $0x87000, %esp      /* neither protocol promises a stack */
	call 1f
1:	popl %ebp
	/* zero 6 pages at 0x80000: the page tables */
	movl $0x80000, %edi
	movl $(6*1024), %ecx
	xorl %eax, %eax
	rep stosl
	movl $0x81003, 0x80000
	movl $0x82003, 0x81000
	movl $0x83003, 0x81008
	movl $0x84003, 0x81010
	movl $0x85003, 0x81018
	/* 2048 2MiB PDEs */
	movl $0x82000, %edi
	movl $0x83, %eax
	movl $2048, %ecx
2:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 2b
	/* PAE */
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl $0x80000, %eax
	movl %eax, %cr3
	/* EFER.LME */
	movl $0xC0000080, %ecx
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	/* GDT pointer at 0x86000: limit, base = ebp + (gdt - 1b) */
	movw $23, 0x86000
	leal (gdt-1b)(%ebp), %eax
	movl %eax, 0x86002
	lgdt 0x86000
	pushl $0x08
	leal (end-1b)(%ebp), %eax
	pushl %eax
	lret
	.balign 8
gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF
	.quad 0x00CF92000000FFFF
end:
