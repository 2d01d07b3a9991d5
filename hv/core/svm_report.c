#include "hv/core/svm_report.h"
#include <stdio.h>
#include "hv/core/log.h"

/* Appends the names of the feature bits of EDX whose state is 'present'. */
static void feature_list(char *out, size_t size, uint32_t edx, bool present)
{
    size_t len = 0;
    out[0] = 0;
    for (unsigned bit = 0; bit < 32; bit++) {
        if (!!(edx & (1u << bit)) != present)
            continue;
        const char *name = svm_feature_name(bit);
        char unknown[12];
        if (!name) {
            if (!present)
                continue; /* reserved bits that are clear say nothing */
            snprintf(unknown, sizeof unknown, "bit%u", bit);
            name = unknown;
        }
        int n = snprintf(out + len, size - len, "%s%s", len ? " " : "", name);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
}

void svm_report(const struct svm_caps *caps)
{
    char list[400];
    pr_info("SVM: revision %u, %u ASIDs, CPUID 0x8000000A EDX=0x%08x",
            caps->revision, caps->nasid, caps->features);
    feature_list(list, sizeof list, caps->features, true);
    pr_info("SVM features present: %s", list[0] ? list : "(none)");
    feature_list(list, sizeof list, caps->features, false);
    pr_info("SVM features absent: %s", list[0] ? list : "(none)");
}
