// CDNNL: 2-D convolutions through oneDNN (Debian's libdnnl, 2.x), loaded with dlopen at run
// time so neither the build nor the binary needs it. Without the headers at build time, or
// without the library at run time, `bss_dnnl_load` reports why and Conv2D keeps its OpenBLAS
// path (docs/design.md, "Convolution backends").
#ifndef BSS_DNNL_H
#define BSS_DNNL_H

/// One convolution: NCHW input [n, c, h, w], OIHW weights [o, c / g, kh, kw], stride, padding
/// (top, bottom, left, right), dilation (1 = dense) and `g` channel groups (0 or 1: one group;
/// more only in inference forward calls, e.g. depthwise convolutions).
typedef struct {
    int n, c, h, w, o, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, g;
} bss_conv_shape;

/// Loads oneDNN (once; thread-safe) and checks it. Returns 1 when usable, 0 otherwise;
/// `bss_dnnl_message` then says what was loaded or why not.
int bss_dnnl_load(void);
const char *bss_dnnl_message(void);

/// The activation applied to the convolution's result in the same call (oneDNN eltwise post-op).
enum { BSS_DNNL_NONE = 0, BSS_DNNL_RELU = 1, BSS_DNNL_RELU6 = 2 };

/// Samples per inference primitive call: full groups of this many run as one primitive, when
/// that primitive was checked (once per shape) to give every sample, at every position, the
/// bits of the mini-batch-1 primitive; the rest, and unchecked shapes, run one sample per call.
/// `BSS_DNNL_GROUPS=off` in the environment runs every sample on its own (to compare).
#define BSS_DNNL_GROUP 16

/// How many (shape, post-op) group primitives passed that check so far, and how many failed it.
void bss_dnnl_group_counts(int *passed, int *failed);

/// y [n, o, oh, ow] = act(conv(x, w) + b) (b may be NULL; act by `activation`, a BSS_DNNL_*
/// code: identity, max(·, 0) or min(max(·, 0), 6)). `per_sample` != 0 (inference): a sample's
/// result does not depend on the others (the mini-batch-1 primitive's bits, see
/// BSS_DNNL_GROUP). Returns 0 on success. All calls are single-threaded (one OpenMP thread):
/// callers parallelise over samples.
int bss_dnnl_conv_forward(const bss_conv_shape *s, int per_sample, const float *x, const float *w,
                          const float *b, int activation, float *y);
/// dx [n, c, h, w] = the gradient of the convolution's input (overwritten).
int bss_dnnl_conv_backward_data(const bss_conv_shape *s, int per_sample, const float *dy,
                                const float *w, float *dx);
/// dw [o, c, kh, kw] and db [o] (when not NULL) = the weight and bias gradients of these n
/// samples (overwritten, not accumulated).
int bss_dnnl_conv_backward_weights(const bss_conv_shape *s, const float *x, const float *dy,
                                   float *dw, float *db);

#endif
