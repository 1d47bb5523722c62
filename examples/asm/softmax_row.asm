; Softmax of one VRAM row at gp1 (FP SRAM slot 0 holds -inf, slot 3 holds 1.0), upstream style.
S_ADDI_INT gp1, gp0, 0
S_LD_FP f1, gp0, 0              ; running max = -inf
V_RED_MAX f1, gp1, 0
V_SUB_VF gp1, gp1, f1, 0, 0     ; x - max
V_EXP_V gp1, gp1, 0
S_LD_FP f2, gp0, 0x3            ; hex immediate (extension)
S_SUB_FP f2, f2, f2             ; sum = 0
V_RED_SUM f2, gp1, 0, 0         ; 4-operand upstream form
S_RECI_FP f2, f2
V_MUL_VF gp1, gp1, f2, 0
C_BREAK 0, 0, 0
