#pragma once
#include "arch/x86/cpu_features.h"

/* Prints the CPU's SVM capabilities (CPUID 0x8000000A) by name. */
void svm_report(const struct svm_caps *caps);
