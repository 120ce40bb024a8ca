// CDNNL: 2-D convolutions through oneDNN (Debian's libdnnl, 2.x), loaded with dlopen at run
// time so neither the build nor the binary needs it. Without the headers at build time, or
// without the library at run time, `bss_dnnl_load` reports why and Conv2D keeps its OpenBLAS
// path (docs/design.md, "Convolution backends").
#ifndef BSS_DNNL_H
#define BSS_DNNL_H

/// One convolution: NCHW input [n, c, h, w], OIHW weights [o, c, kh, kw], stride, padding
/// (top, bottom, left, right) and dilation (1 = dense), one group.
typedef struct {
    int n, c, h, w, o, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw;
} bss_conv_shape;

/// Loads oneDNN (once; thread-safe) and checks it. Returns 1 when usable, 0 otherwise;
/// `bss_dnnl_message` then says what was loaded or why not.
int bss_dnnl_load(void);
const char *bss_dnnl_message(void);

/// y [n, o, oh, ow] = conv(x, w) + b (b may be NULL), or max(conv(x, w) + b, 0) when `relu` != 0
/// (oneDNN's ReLU post-op). `per_sample` != 0 runs one primitive of mini-batch 1 per sample, so a
/// sample's result does not depend on the others. Returns 0 on success. All calls are
/// single-threaded (one OpenMP thread): callers parallelise over samples.
int bss_dnnl_conv_forward(const bss_conv_shape *s, int per_sample, const float *x, const float *w,
                          const float *b, int relu, float *y);
/// dx [n, c, h, w] = the gradient of the convolution's input (overwritten).
int bss_dnnl_conv_backward_data(const bss_conv_shape *s, int per_sample, const float *dy,
                                const float *w, float *dx);
/// dw [o, c, kh, kw] and db [o] (when not NULL) = the weight and bias gradients of these n
/// samples (overwritten, not accumulated).
int bss_dnnl_conv_backward_weights(const bss_conv_shape *s, const float *x, const float *dy,
                                   float *dw, float *db);

#endif
