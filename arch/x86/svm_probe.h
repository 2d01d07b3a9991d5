/* Reads the CPU's SVM capability (CPUID, VM_CR) on the running CPU and
 * decodes it with the pure decoder in cpu_features.c. */
#pragma once
#include "arch/x86/cpu_features.h"

void svm_probe(struct svm_caps *caps);
