; y = 2*x + 1 over a 4 x 64 activation tile (reference-small: VLEN 64, 4 rows per H_PREFETCH_V).
; x lives at a0, y is stored to a1; both use the config's activation format (MXFP8, block 8):
; elements first, then the scales SCALE_REG elements further on (256 = 4 rows x 64).
S_ADDI_INT gp3, gp0, 256        ; element count of the tensor = offset of its scale region
C_SET_SCALE_REG gp3
S_ADDI_INT gp1, gp0, 0          ; VRAM row address
H_PREFETCH_V gp1, gp0, a0, 0, 0 ; 4 rows of x -> VRAM[0..256)
S_LD_FP f1, gp0, 0              ; f1 = FP SRAM[0] = 2.0
S_LD_FP f2, gp0, 1              ; f2 = FP SRAM[1] = 1.0
C_LOOP_START gp2, 4
V_MUL_VF gp1, gp1, f1, 0
V_ADD_VF gp1, gp1, f2, 0
S_ADDI_INT gp1, gp1, 64
C_LOOP_END gp2
H_STORE_V gp0, gp0, a1, 0, 0    ; 4 VRAM rows from address 0 -> HBM at a1
