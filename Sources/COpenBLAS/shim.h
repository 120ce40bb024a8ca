// COpenBLAS: declarations for loading OpenBLAS at run time.
// The library is deliberately not linked: OpenBLAS picks its kernels in a constructor that
// runs when it is loaded, so we set OPENBLAS_CORETYPE first and then dlopen it.
#ifndef BSS_COPENBLAS_SHIM_H
#define BSS_COPENBLAS_SHIM_H
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/// cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
typedef void (*bss_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                             const float *, int, float, float *, int);
/// cblas_sgemv(order, transA, M, N, alpha, A, lda, x, incx, beta, y, incy)
typedef void (*bss_sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int,
                             float, float *, int);
typedef void (*bss_set_threads_fn)(int);
typedef char *(*bss_corename_fn)(void);

enum { BSS_CBLAS_ROW_MAJOR = 101, BSS_CBLAS_NO_TRANS = 111, BSS_CBLAS_TRANS = 112 };

/// CPU feature bits used to choose an OpenBLAS core type.
/// bit 0: AVX2, 1: FMA, 2: AVX512F, 3: AVX512BW, 4: AVX512VL, 5: AVX512DQ, 6: AVX512_BF16,
/// 7: OS saves AVX-512 state (XCR0 opmask/ZMM), 8: OS saves AVX state.
static inline unsigned bss_cpu_features(void) {
#if !(defined(__x86_64__) || defined(__i386__))
    return 0;  // no x86 features to report; OpenBLAS detects the core itself
#else
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
    if (fma) f |= 2;
    if (osxsave) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 0x6) == 0x6) f |= 1u << 8;
        if ((lo & 0xE6) == 0xE6) f |= 1u << 7;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if ((b >> 5) & 1) f |= 1;
        if ((b >> 16) & 1) f |= 4;
        if ((b >> 30) & 1) f |= 8;
        if ((b >> 31) & 1) f |= 16;
        if ((b >> 17) & 1) f |= 32;
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
        if ((a >> 5) & 1) f |= 64;
    }
    return f;
#endif
}
#endif
