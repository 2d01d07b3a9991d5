/* Exception vectors (APM Vol. 2, 8.2), by the names the manuals use. */
#pragma once

enum x86_vector {
    VEC_DE = 0,
    VEC_DB = 1,
    VEC_NMI = 2,
    VEC_BP = 3,
    VEC_UD = 6,
    VEC_NM = 7,
    VEC_DF = 8,
    VEC_NP = 11,
    VEC_SS = 12,
    VEC_GP = 13,
    VEC_PF = 14,
    VEC_AC = 17, /* alignment check: error code always 0 */
    VEC_MC = 18,
    VEC_SX = 30, /* security exception: an INIT redirected by VM_CR.R_INIT */
};
