; One 64x64 output tile of a projection (MLEN = 64, BLEN = 4), upstream kernel style.
; Weights in HBM at a1, activations already in VRAM at 0, result written to VRAM 8192.
.equ W_ROW_STRIDE, 64          ; plena-cpp extension: named constant
S_ADDI_INT gp1, gp0, W_ROW_STRIDE
C_SET_STRIDE_REG gp1
S_ADDI_INT gp2, gp0, 0          ; MRAM destination
S_ADDI_INT gp3, gp0, 0          ; HBM offset
H_PREFETCH_M gp2, gp3, a1, 1, 0
S_ADDI_INT gp4, gp0, 0          ; weight column block (row-granular MRAM address)
S_ADDI_INT gp5, gp0, 0          ; activation rows
S_ADDI_INT gp6, gp0, 8192       // output
C_LOOP_START gp7, 16            ; MLEN / BLEN output micro-columns
	M_MM 0, gp4, gp5
	M_MM_WO gp6, gp0, 0
	S_ADDI_INT gp4, gp4, 256    ; BLEN * MLEN
	S_ADDI_INT gp6, gp6, 4      ; BLEN
C_LOOP_END gp7
