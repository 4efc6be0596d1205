// Entry from the loader: the arm64 Linux Image header, the EL2 -> EL1 drop, self-relocation,
// and the first instructions of the boot core and of every secondary core.
//
// Protocol (Documentation/arch/arm64/booting.rst): entered with the MMU off, x0 = physical
// address of the DTB, at EL2 or EL1. The image is linked at 0 and relocates itself.

.section .text.image_header, "ax"
.global _start
_start:
    b       primary_entry               // code0: jump over the header
    .long   0                           // code1
    .quad   0x80000                     // text_offset: the classic 512 KiB every loader honours
    .quad   __image_size                // image_size, bss included
    .quad   0xa                         // flags: little endian, 4 KiB pages, any 2 MiB base
    .quad   0, 0, 0                     // reserved
    .ascii  "ARM\x64"                   // magic
    .long   0                           // no PE/COFF header

.section .text.boot, "ax"

// The boot core. x0 = DTB. Runs on the bss boot stack until Rust has built the page tables.
primary_entry:
    msr     daifset, #0xf
    mov     x19, x0                     // x19 = DTB physical address, kept across the calls below
    bl      enter_el1                   // x20 = the exception level we were entered at
    bl      enable_fp_and_vectors

    // Zero bss; the boot stack lies inside it, so this happens before the first push.
    adrp    x0, __bss_start
    adrp    x1, __bss_end
1:  stp     xzr, xzr, [x0], #16
    cmp     x0, x1
    b.lo    1b

    // Apply R_AARCH64_RELATIVE relocations: *(base + offset) = base + addend.
    adr     x2, _start
    adrp    x0, __rela_start
    add     x0, x0, :lo12:__rela_start
    adrp    x1, __rela_end
    add     x1, x1, :lo12:__rela_end
2:  cmp     x0, x1
    b.hs    3f
    ldp     x3, x4, [x0], #16           // r_offset, r_info
    ldr     x5, [x0], #8                // r_addend
    cmp     x4, #1027                   // R_AARCH64_RELATIVE: the only kind a static PIE has
    b.ne    park
    add     x5, x5, x2
    str     x5, [x3, x2]
    b       2b
3:
    // Exception stack (SP_EL1) and thread stack (SP_EL0): kernel code runs on SP_EL0 so that a
    // thread-stack overflow faults onto a stack that still works.
    adrp    x0, __boot_exception_stack_top
    add     x0, x0, :lo12:__boot_exception_stack_top
    mov     sp, x0
    msr     spsel, #0
    adrp    x0, __boot_stack_top
    add     x0, x0, :lo12:__boot_stack_top
    mov     sp, x0
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x19
    mov     x1, x20
    // The kernel's start-up code (src/kernel/start.rs):
    // extern "C" fn primary_main(dtb_address: usize, entry_el: u64) -> !
    bl      primary_main
    b       park

// A secondary core started by PSCI CPU_ON: x0 = its `SecondaryBoot` record, which the boot
// core cleaned to the point of coherency because we read it with the MMU and caches off.
.global secondary_entry
secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    bl      enter_el1
    bl      enable_fp_and_vectors
    ldp     x0, x1, [x19, #0]           // MAIR_EL1, TCR_EL1
    ldp     x2, x3, [x19, #16]          // TTBR0_EL1, SCTLR_EL1
    msr     mair_el1, x0
    msr     tcr_el1, x1
    msr     ttbr0_el1, x2
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     sctlr_el1, x3               // MMU and caches on
    isb
    ldp     x0, x1, [x19, #32]          // exception stack top, thread stack top
    mov     sp, x0
    msr     spsel, #0
    mov     sp, x1
    ldr     x0, [x19, #48]              // core index
    mov     x29, xzr
    mov     x30, xzr
    // extern "C" fn secondary_main(index: usize) -> ! (src/kernel/start.rs)
    bl      secondary_main
    b       park

// A secondary core released from a spin table: no argument, so its record is the one the
// boot core published in `SPIN_TABLE_RECORD` (spin-table cores are started one at a time).
.global spin_table_entry
spin_table_entry:
    adrp    x0, SPIN_TABLE_RECORD
    ldr     x0, [x0, :lo12:SPIN_TABLE_RECORD]
    b       secondary_entry

// Leaves EL2 for EL1 with everything EL1 needs; at EL1 it only returns. x20 = entry EL.
// Clobbers x0, x1.
enter_el1:
    mrs     x20, CurrentEL
    lsr     x20, x20, #2
    cmp     x20, #2
    b.eq    1f
    ret                                 // EL1 (ready) or EL3 (Rust reports it and stops)
1:  mov     x0, #(1 << 31)              // HCR_EL2.RW: EL1 runs AArch64; nothing trapped to EL2
    msr     hcr_el2, x0
    mov     x0, #3                      // CNTHCTL_EL2.EL1PCTEN | EL1PCEN: EL1 owns the
    msr     cnthctl_el2, x0             // physical counter and timer
    msr     cntvoff_el2, xzr            // virtual time = physical time
    mov     x0, #0x33ff                 // CPTR_EL2: RES1 bits, FP/SIMD not trapped
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, id_aa64pfr0_el1         // GIC system registers present (GICv3)?
    ubfx    x0, x0, #24, #4
    cbz     x0, 2f
    mrs     x0, S3_4_C12_C9_5           // ICC_SRE_EL2
    orr     x0, x0, #0x1                // SRE: system-register interface
    orr     x0, x0, #0x8                // Enable: EL1 may use ICC_SRE_EL1
    msr     S3_4_C12_C9_5, x0
    isb
2:  movz    x0, #0x0800                 // SCTLR_EL1 RES1 bits, MMU and caches off
    movk    x0, #0x30d0, lsl #16
    msr     sctlr_el1, x0
    mov     x0, #0x3c5                  // SPSR: EL1h, D A I F masked
    msr     spsr_el2, x0
    msr     elr_el2, x30
    eret

// FP/SIMD on for EL1 (Rust uses SIMD registers), and the EL1 vector table installed.
enable_fp_and_vectors:
    mov     x0, #(3 << 20)              // CPACR_EL1.FPEN: no FP/SIMD traps
    msr     cpacr_el1, x0
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0
    isb
    ret

.global park
park:
    msr     daifset, #0xf
1:  wfi
    b       1b

.section .bss.boot_exception_stack, "aw", %nobits
.balign 16
    .space  16 * 1024
__boot_exception_stack_top:
