/* Unit tests for arch/x86/cpu_features.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/cpu_features.h"

/* EPYC-like values as QEMU TCG reports them: revision 1, 16 ASIDs, NP. */
static struct svm_raw good_raw(void)
{
    struct svm_raw r;

    memset(&r, 0, sizeof(r));
    memcpy(r.vendor, "AuthenticAMD", 13);
    r.ext_max_leaf = 0x8000001f;
    r.ext1_ecx = 0x000003f7; /* LahfSahf, CmpLegacy, SVM, ... */
    r.vm_cr_valid = true;
    r.vm_cr = 0;
    r.svm_eax = 1;
    r.svm_ebx = 16;
    r.svm_edx = 0x1;
    return r;
}

static struct svm_caps decode(const struct svm_raw *r)
{
    struct svm_caps c;

    memset(&c, 0xee, sizeof(c)); /* stale junk must be overwritten */
    svm_decode(r, &c);
    return c;
}

static void assert_caps_zero(const struct svm_caps *c)
{
    assert_int_equal(c->revision, 0);
    assert_int_equal(c->nasid, 0);
    assert_int_equal(c->features, 0);
}

static void test_tcg_epyc_ok(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_OK);
    assert_int_equal(c.revision, 1);
    assert_int_equal(c.nasid, 16);
    assert_int_equal(c.features, 0x1);
    assert_true(svm_has(&c, SVM_FEAT_NP));
    assert_false(svm_has(&c, SVM_FEAT_NRIPS));
    assert_false(svm_has(&c, SVM_FEAT_VMCB_CLEAN));
}

static void test_zen3_ok(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    r.svm_eax = 0x00000001;
    r.svm_ebx = 0x8000;
    r.svm_edx = 0x0001bcff;
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_OK);
    assert_int_equal(c.revision, 1);
    assert_int_equal(c.nasid, 0x8000);
    assert_int_equal(c.features, 0x0001bcff);
    const unsigned have[] = {
        SVM_FEAT_NP, SVM_FEAT_LBR_VIRT, SVM_FEAT_SVML, SVM_FEAT_NRIPS,
        SVM_FEAT_TSC_RATE_MSR, SVM_FEAT_VMCB_CLEAN, SVM_FEAT_FLUSH_BY_ASID,
        SVM_FEAT_DECODE_ASSISTS, SVM_FEAT_PAUSE_FILTER,
        SVM_FEAT_PAUSE_FILTER_THRESHOLD, SVM_FEAT_AVIC,
        SVM_FEAT_VMSAVE_VIRT, SVM_FEAT_VGIF,
    };
    for (size_t i = 0; i < sizeof(have) / sizeof(have[0]); i++)
        assert_true(svm_has(&c, have[i]));
    assert_false(svm_has(&c, SVM_FEAT_GMET));
    assert_false(svm_has(&c, SVM_FEAT_X2AVIC));
    assert_false(svm_has(&c, SVM_FEAT_VNMI));
    /* Bit 11 is set on such parts but is reserved: raw bit kept, no name. */
    assert_true(svm_has(&c, 11));
    assert_null(svm_feature_name(11));
}

static void test_revision_masks_upper_eax(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    r.svm_eax = 0xabcd1202; /* EAX[31:8] reserved */
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_OK);
    assert_int_equal(c.revision, 0x02);
}

static void test_intel_rejected(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    memcpy(r.vendor, "GenuineIntel", 13);
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_NOT_AMD);
    assert_caps_zero(&c);
    assert_false(svm_has(&c, SVM_FEAT_NP));
}

static void test_vendor_near_misses(void **state)
{
    (void)state;
    const char *bad[] = {
        "AuthenticAMd", "authenticAMD", "AuthenticAM", "HygonGenuin",
        "", "AMDisbetter!", "HygonGenuinE",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct svm_raw r = good_raw();
        memset(r.vendor, 0, sizeof(r.vendor));
        memcpy(r.vendor, bad[i], strlen(bad[i]));
        struct svm_caps c = decode(&r);
        assert_int_equal(c.verdict, SVM_NOT_AMD);
    }
}

static void test_hygon_accepted(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    memcpy(r.vendor, "HygonGenuine", 13);
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_OK);
    assert_int_equal(c.nasid, 16);
}

static void test_vendor_ignores_byte_12(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    r.vendor[12] = 'x'; /* only the 12 CPUID bytes matter */
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_OK);
}

static void test_no_ext_leaf(void **state)
{
    (void)state;
    /* Max below 0x80000001, or not of the 0x8000xxxx form at all. */
    const uint32_t bad_max[] = {
        0, 0x0000000d, 0x7fffffff, 0x80000000, 0x80010001, 0xffffffff,
    };
    for (size_t i = 0; i < sizeof(bad_max) / sizeof(bad_max[0]); i++) {
        struct svm_raw r = good_raw();
        r.ext_max_leaf = bad_max[i];
        struct svm_caps c = decode(&r);
        assert_int_equal(c.verdict, SVM_NO_EXT_LEAF);
        assert_caps_zero(&c);
    }
}

static void test_svm_bit_but_no_svm_leaf(void **state)
{
    (void)state;
    /* SVM advertised but leaf 0x8000000A beyond the reported maximum. */
    const uint32_t maxes[] = { 0x80000001, 0x80000008, 0x80000009 };
    for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
        struct svm_raw r = good_raw();
        r.ext_max_leaf = maxes[i];
        struct svm_caps c = decode(&r);
        assert_int_equal(c.verdict, SVM_NO_EXT_LEAF);
        assert_caps_zero(&c);
    }
    /* Exactly 0x8000000A is enough. */
    struct svm_raw r = good_raw();
    r.ext_max_leaf = 0x8000000a;
    struct svm_caps c = decode(&r);
    assert_int_equal(c.verdict, SVM_OK);
}

static void test_no_svm_bit(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    r.ext1_ecx = ~CPUID_80000001_ECX_SVM; /* everything but SVM */
    r.vm_cr_valid = false;
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_NOT_SUPPORTED);
    assert_caps_zero(&c);

    /* The SVM check wins over a missing 0x8000000A leaf. */
    r.ext_max_leaf = 0x80000008;
    c = decode(&r);
    assert_int_equal(c.verdict, SVM_NOT_SUPPORTED);
}

static void test_svmdis_locked(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    r.svm_edx = 0x0001bcff;
    r.vm_cr = VM_CR_SVMDIS | VM_CR_LOCK;
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_DISABLED_BIOS);
    /* Capabilities are still reported for the log ... */
    assert_int_equal(c.revision, 1);
    assert_int_equal(c.features, 0x0001bcff);
    /* ... but nothing is usable. */
    assert_false(svm_has(&c, SVM_FEAT_NP));
}

static void test_svmdis_unlocked(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    r.vm_cr = VM_CR_SVMDIS;
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_DISABLED_UNLOCKED);
    assert_int_equal(c.nasid, 16);
    assert_false(svm_has(&c, SVM_FEAT_NP));
}

static void test_vm_cr_other_bits(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();

    /* Locked enabled by firmware: fine. */
    r.vm_cr = VM_CR_LOCK;
    assert_int_equal(decode(&r).verdict, SVM_OK);

    /* Unrelated bits (DPD, R_INIT, DIS_A20M, high bits) do not matter. */
    r.vm_cr = 0x7ull | (1ull << 5) | (1ull << 63);
    assert_int_equal(decode(&r).verdict, SVM_OK);

    /* ... and do not mask SVMDIS either. */
    r.vm_cr |= VM_CR_SVMDIS;
    assert_int_equal(decode(&r).verdict, SVM_DISABLED_UNLOCKED);
    r.vm_cr |= VM_CR_LOCK;
    assert_int_equal(decode(&r).verdict, SVM_DISABLED_BIOS);
}

static void test_vm_cr_not_read_is_ignored(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    r.vm_cr_valid = false;
    r.vm_cr = VM_CR_SVMDIS | VM_CR_LOCK; /* junk: never read */
    struct svm_caps c = decode(&r);

    assert_int_equal(c.verdict, SVM_OK);
}

static void test_feature_names(void **state)
{
    (void)state;
    static const struct { unsigned bit; const char *name; } known[] = {
        { 0, "NP" }, { 1, "LbrVirt" }, { 2, "SVML" }, { 3, "NRIPS" },
        { 4, "TscRateMsr" }, { 5, "VmcbClean" }, { 6, "FlushByAsid" },
        { 7, "DecodeAssists" }, { 10, "PauseFilter" },
        { 12, "PauseFilterThreshold" }, { 13, "AVIC" },
        { 15, "VMSAVEvirt" }, { 16, "VGIF" }, { 17, "GMET" },
        { 18, "x2AVIC" }, { 19, "SSSCheck" }, { 20, "SpecCtrl" },
        { 21, "ROGPT" }, { 23, "HostMceOverride" }, { 24, "TlbiCtl" },
        { 25, "VNMI" }, { 26, "IbsVirt" }, { 27, "ExtLvtAvicAccessChg" },
        { 28, "NestedVirtVmcbAddrChk" }, { 29, "BusLockThreshold" },
        { 30, "IdleHltIntercept" },
    };
    uint32_t named = 0;

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const char *n = svm_feature_name(known[i].bit);
        assert_non_null(n);
        assert_string_equal(n, known[i].name);
        named |= 1u << known[i].bit;
    }
    /* Every other bit, and anything past 31, has no name. */
    for (unsigned b = 0; b < 32; b++) {
        if (!(named & (1u << b)))
            assert_null(svm_feature_name(b));
    }
    assert_null(svm_feature_name(32));
    assert_null(svm_feature_name(100));
    assert_null(svm_feature_name(~0u));
}

static void test_feature_constants(void **state)
{
    (void)state;
    assert_int_equal(SVM_FEAT_NP, 0);
    assert_int_equal(SVM_FEAT_NRIPS, 3);
    assert_int_equal(SVM_FEAT_DECODE_ASSISTS, 7);
    assert_int_equal(SVM_FEAT_PAUSE_FILTER, 10);
    assert_int_equal(SVM_FEAT_AVIC, 13);
    assert_int_equal(SVM_FEAT_VGIF, 16);
    assert_int_equal(SVM_FEAT_VNMI, 25);
    assert_int_equal(SVM_FEAT_IDLE_HLT_INTERCEPT, 30);
    assert_string_equal(svm_feature_name(SVM_FEAT_VMCB_ADDR_CHK),
                        "NestedVirtVmcbAddrChk");
}

static void test_svm_has_bounds(void **state)
{
    (void)state;
    struct svm_caps c = { .verdict = SVM_OK, .features = 0xffffffffu };

    assert_true(svm_has(&c, 0));
    assert_true(svm_has(&c, 31));
    assert_false(svm_has(&c, 32));
    assert_false(svm_has(&c, ~0u));
    c.verdict = SVM_DISABLED_UNLOCKED;
    assert_false(svm_has(&c, 0));
}

static void test_verdict_texts(void **state)
{
    (void)state;
    const enum svm_verdict all[] = {
        SVM_OK, SVM_NOT_AMD, SVM_NO_EXT_LEAF, SVM_NOT_SUPPORTED,
        SVM_DISABLED_BIOS, SVM_DISABLED_UNLOCKED,
    };
    const size_t n = sizeof(all) / sizeof(all[0]);

    for (size_t i = 0; i < n; i++) {
        const char *t = svm_verdict_text(all[i]);
        assert_non_null(t);
        assert_true(strlen(t) > 20);
        assert_int_equal(t[strlen(t) - 1], '.'); /* a full sentence */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t, svm_verdict_text(all[j]));
    }
    assert_non_null(strstr(svm_verdict_text(SVM_NOT_AMD), "not AMD or Hygon"));
    assert_non_null(strstr(svm_verdict_text(SVM_DISABLED_UNLOCKED),
                           "not locked"));
    /* Out-of-range values still give a usable string. */
    const char *t = svm_verdict_text((enum svm_verdict)99);
    assert_non_null(t);
    assert_true(strlen(t) > 0);
}

/* What the hypervisor needs beyond usable SVM (svm_missing_requirement). */
static void test_requirements(void **state)
{
    (void)state;
    struct svm_raw r = good_raw();
    struct svm_caps c = decode(&r);
    assert_null(svm_missing_requirement(&c)); /* TCG's EPYC: NP, 16 ASIDs */

    r.svm_edx = 0; /* -cpu EPYC,-npt */
    c = decode(&r);
    assert_int_equal(c.verdict, SVM_OK); /* SVM itself is fine... */
    const char *why = svm_missing_requirement(&c);
    assert_non_null(why); /* ...but the hypervisor cannot protect itself */
    assert_non_null(strstr(why, "nested paging"));

    r.svm_edx = 0x0001bcfe; /* a Zen 3 without NP: everything else is no help */
    c = decode(&r);
    assert_non_null(strstr(svm_missing_requirement(&c), "nested paging"));

    r = good_raw();
    r.svm_ebx = 2; /* the host's ASID and one more: L2 would have none */
    c = decode(&r);
    assert_non_null(strstr(svm_missing_requirement(&c), "ASIDs"));
    r.svm_ebx = 3;
    c = decode(&r);
    assert_null(svm_missing_requirement(&c));

    /* Unusable SVM: its own verdict's text. */
    r = good_raw();
    r.vm_cr = VM_CR_SVMDIS | VM_CR_LOCK;
    c = decode(&r);
    assert_string_equal(svm_missing_requirement(&c), svm_verdict_text(SVM_DISABLED_BIOS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcg_epyc_ok),
        cmocka_unit_test(test_zen3_ok),
        cmocka_unit_test(test_revision_masks_upper_eax),
        cmocka_unit_test(test_intel_rejected),
        cmocka_unit_test(test_vendor_near_misses),
        cmocka_unit_test(test_hygon_accepted),
        cmocka_unit_test(test_vendor_ignores_byte_12),
        cmocka_unit_test(test_no_ext_leaf),
        cmocka_unit_test(test_svm_bit_but_no_svm_leaf),
        cmocka_unit_test(test_no_svm_bit),
        cmocka_unit_test(test_svmdis_locked),
        cmocka_unit_test(test_svmdis_unlocked),
        cmocka_unit_test(test_vm_cr_other_bits),
        cmocka_unit_test(test_vm_cr_not_read_is_ignored),
        cmocka_unit_test(test_feature_names),
        cmocka_unit_test(test_feature_constants),
        cmocka_unit_test(test_svm_has_bounds),
        cmocka_unit_test(test_verdict_texts),
        cmocka_unit_test(test_requirements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
