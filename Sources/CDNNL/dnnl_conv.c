// Convolutions through oneDNN 2.x, loaded with dlopen (see include/bss_dnnl.h and
// docs/design.md, "Convolution backends").
//
// Why this shape:
// - oneDNN's fast kernels want blocked layouts (nChw16c activations, OIhw16i16o weights), so
//   each call reorders our NCHW/OIHW tensors into per-thread scratch, runs the primitive and
//   reorders the result back. The reorders cost far less than they save.
// - Every call runs on one OpenMP thread; the engine's own workers (Parallel) split the batch.
//   OpenMP teams on a shared machine stall at their barriers whenever one thread is descheduled,
//   and our chunking keeps results independent of oneDNN's thread split.
// - Primitives are created once per (kind, shape, mini-batch) and cached: creating one JITs code.
// - Scratchpads are ours (`dnnl_scratchpad_mode_user`, per-thread buffers): Debian's build shares
//   one library scratchpad between primitives, which is unsafe when two workers run at once.
#include "bss_dnnl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>
#if DNNL_VERSION_MAJOR == 2
#define BSS_HAVE_DNNL 1
#endif
#endif

static char message[256] = "oneDNN not loaded";
const char *bss_dnnl_message(void) { return message; }

#ifndef BSS_HAVE_DNNL

int bss_dnnl_load(void) {
    snprintf(message, sizeof message, "built without oneDNN 2.x headers (Debian: libdnnl-dev)");
    return 0;
}
int bss_dnnl_conv_forward(const bss_conv_shape *s, int p, const float *x, const float *w, const float *b, int act, float *y) {
    (void)s; (void)p; (void)x; (void)w; (void)b; (void)act; (void)y; return -1;
}
void bss_dnnl_group_counts(int *passed, int *failed) { *passed = 0; *failed = 0; }
int bss_dnnl_conv_backward_data(const bss_conv_shape *s, int p, const float *dy, const float *w, float *dx) {
    (void)s; (void)p; (void)dy; (void)w; (void)dx; return -1;
}
int bss_dnnl_conv_backward_weights(const bss_conv_shape *s, const float *x, const float *dy, float *dw, float *db) {
    (void)s; (void)x; (void)dy; (void)dw; (void)db; return -1;
}

#else

// The library's entry points, resolved with dlsym (types from the real header).
#define FN(name) static __typeof__(name) *p_##name
FN(dnnl_version);
FN(dnnl_engine_create);
FN(dnnl_stream_create);
FN(dnnl_stream_wait);
FN(dnnl_memory_desc_init_by_tag);
FN(dnnl_memory_desc_equal);
FN(dnnl_memory_desc_get_size);
FN(dnnl_memory_create);
FN(dnnl_memory_destroy);
FN(dnnl_memory_set_data_handle);
FN(dnnl_dilated_convolution_forward_desc_init);
FN(dnnl_dilated_convolution_backward_data_desc_init);
FN(dnnl_dilated_convolution_backward_weights_desc_init);
FN(dnnl_primitive_desc_create);
FN(dnnl_primitive_desc_destroy);
FN(dnnl_primitive_desc_query_md);
FN(dnnl_primitive_create);
FN(dnnl_primitive_execute);
FN(dnnl_reorder_primitive_desc_create);
FN(dnnl_primitive_attr_create);
FN(dnnl_primitive_attr_destroy);
FN(dnnl_primitive_attr_set_scratchpad_mode);
FN(dnnl_primitive_attr_set_post_ops);
FN(dnnl_post_ops_create);
FN(dnnl_post_ops_destroy);
FN(dnnl_post_ops_append_eltwise);
static void (*p_omp_set_num_threads)(int);

static dnnl_engine_t engine;
static dnnl_primitive_attr_t user_scratchpad;  // attributes of every primitive we create
static dnnl_primitive_attr_t post_attr[3];     // the same plus an activation post-op (fused forward), by BSS_DNNL_*
static int loaded = -1;  // -1 not tried, 0 failed, 1 usable
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

enum kind { FWD_TRAINING, FWD_INFERENCE, BWD_DATA, BWD_WEIGHTS };

// One of a primitive's three tensor arguments: our layout (`user`), the primitive's, and the
// reorder between them (NULL when they agree). `batched`: it has the mini-batch dimension.
typedef struct {
    int arg, output, batched;
    dnnl_memory_desc_t user, prim;
    dnnl_primitive_t reorder;
    size_t bytes;
    dnnl_memory_desc_t reorder_scratch;
} slot;

typedef struct entry {
    struct entry *next;
    enum kind kind;
    bss_conv_shape shape;
    int bias, post;
    // Inference primitives of mini-batch BSS_DNNL_GROUP: 0 unchecked, 1 gives the mini-batch-1
    // primitive's bits at every position, 2 does not (then unused).
    int group_check;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t scratch_md;
    slot slots[3];
    dnnl_memory_desc_t bias_md;
} entry;
static entry *cache;

// Per-thread stream and scratch buffers (one per slot, then the primitives' scratchpad), grown
// as needed.
static __thread dnnl_stream_t thread_stream;
static __thread float *scratch[4];
static __thread size_t scratch_bytes[4];

static float *scratch_for(int i, size_t bytes) {
    if (bytes > scratch_bytes[i]) {
        free(scratch[i]);
        scratch[i] = aligned_alloc(64, (bytes + 63) / 64 * 64);
        scratch_bytes[i] = scratch[i] ? bytes : 0;
    }
    return scratch[i];
}

static int ok(dnnl_status_t s) { return s == dnnl_success; }

static void out_size(const bss_conv_shape *s, int *oh, int *ow) {
    *oh = (s->h + s->pt + s->pb - (s->kh - 1) * s->dh - 1) / s->sh + 1;
    *ow = (s->w + s->pl + s->pr - (s->kw - 1) * s->dw - 1) / s->sw + 1;
}

static int make_reorder(slot *sl) {
    sl->bytes = p_dnnl_memory_desc_get_size(&sl->prim);
    if (p_dnnl_memory_desc_equal(&sl->user, &sl->prim)) { sl->reorder = NULL; return 1; }
    dnnl_primitive_desc_t pd;
    const dnnl_memory_desc_t *from = sl->output ? &sl->prim : &sl->user, *to = sl->output ? &sl->user : &sl->prim;
    if (!ok(p_dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, user_scratchpad))) return 0;
    sl->reorder_scratch = *p_dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    int good = ok(p_dnnl_primitive_create(&sl->reorder, pd));
    p_dnnl_primitive_desc_destroy(pd);
    return good;
}

// Creates the primitive of `kind` for shape `s` (mini-batch s->n). Called with `lock` held.
// `post` (forward kinds only, a BSS_DNNL_* code): the activation as oneDNN's eltwise post-op.
static entry *create(enum kind kind, const bss_conv_shape *s, int bias, int post) {
    int oh, ow;
    out_size(s, &oh, &ow);
    int groups = s->g > 1 ? s->g : 1;
    // Grouped weights are [g, o/g, c/g, kh, kw] to oneDNN (goihw, the same bytes as our OIHW).
    if (groups > 1 && (kind != FWD_INFERENCE || s->c % groups || s->o % groups)) return NULL;
    dnnl_dims_t src = {s->n, s->c, s->h, s->w}, wei = {s->o, s->c, s->kh, s->kw}, bd = {s->o}, dst = {s->n, s->o, oh, ow};
    dnnl_dims_t gwei = {groups, s->o / groups, s->c / groups, s->kh, s->kw};
    dnnl_dims_t strides = {s->sh, s->sw}, dil = {s->dh - 1, s->dw - 1}, pl = {s->pt, s->pl}, pr = {s->pb, s->pr};
    dnnl_memory_desc_t usrc, uwei, udst, asrc, awei, adst, mbias;
    // Three input channels or fewer: plain NCHW input (oneDNN's first-layer kernels read it directly).
    dnnl_format_tag_t srcTag = s->c < 8 ? dnnl_nchw : dnnl_format_tag_any;
    if (!ok(p_dnnl_memory_desc_init_by_tag(&usrc, 4, src, dnnl_f32, dnnl_nchw))
        || !ok(groups > 1 ? p_dnnl_memory_desc_init_by_tag(&uwei, 5, gwei, dnnl_f32, dnnl_goihw)
                          : p_dnnl_memory_desc_init_by_tag(&uwei, 4, wei, dnnl_f32, dnnl_oihw))
        || !ok(p_dnnl_memory_desc_init_by_tag(&udst, 4, dst, dnnl_f32, dnnl_nchw))
        || !ok(p_dnnl_memory_desc_init_by_tag(&asrc, 4, src, dnnl_f32, srcTag))
        || !ok(p_dnnl_memory_desc_init_by_tag(&awei, groups > 1 ? 5 : 4, groups > 1 ? gwei : wei, dnnl_f32, dnnl_format_tag_any))
        || !ok(p_dnnl_memory_desc_init_by_tag(&adst, 4, dst, dnnl_f32, dnnl_format_tag_any))
        || !ok(p_dnnl_memory_desc_init_by_tag(&mbias, 1, bd, dnnl_f32, dnnl_x)))
        return NULL;
    dnnl_convolution_desc_t fwd, op;
    int training = kind != FWD_INFERENCE;
    if (!ok(p_dnnl_dilated_convolution_forward_desc_init(&fwd, training ? dnnl_forward_training : dnnl_forward_inference,
                                                         dnnl_convolution_direct, &asrc, &awei, bias ? &mbias : NULL,
                                                         &adst, strides, dil, pl, pr)))
        return NULL;
    dnnl_primitive_desc_t fpd = NULL, pd = NULL;
    if (!ok(p_dnnl_primitive_desc_create(&fpd, &fwd, post_attr[post], engine, NULL))) return NULL;
    entry *e = calloc(1, sizeof *e);
    e->kind = kind; e->shape = *s; e->bias = bias; e->post = post; e->bias_md = mbias;
    int good = 1;
    switch (kind) {
    case FWD_TRAINING: case FWD_INFERENCE:
        pd = fpd; fpd = NULL;
        e->slots[0] = (slot){DNNL_ARG_SRC, 0, 1, usrc, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), NULL, 0, {0}};
        e->slots[1] = (slot){DNNL_ARG_WEIGHTS, 0, 0, uwei, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), NULL, 0, {0}};
        e->slots[2] = (slot){DNNL_ARG_DST, 1, 1, udst, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), NULL, 0, {0}};
        break;
    case BWD_DATA:
        good = ok(p_dnnl_dilated_convolution_backward_data_desc_init(&op, dnnl_convolution_direct, &asrc, &awei, &adst,
                                                                     strides, dil, pl, pr))
            && ok(p_dnnl_primitive_desc_create(&pd, &op, user_scratchpad, engine, fpd));
        if (good) {
            e->slots[0] = (slot){DNNL_ARG_DIFF_DST, 0, 1, udst, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), NULL, 0, {0}};
            e->slots[1] = (slot){DNNL_ARG_WEIGHTS, 0, 0, uwei, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), NULL, 0, {0}};
            e->slots[2] = (slot){DNNL_ARG_DIFF_SRC, 1, 1, usrc, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0), NULL, 0, {0}};
        }
        break;
    case BWD_WEIGHTS:
        good = ok(p_dnnl_dilated_convolution_backward_weights_desc_init(&op, dnnl_convolution_direct, &asrc, &awei,
                                                                        bias ? &mbias : NULL, &adst, strides, dil, pl, pr))
            && ok(p_dnnl_primitive_desc_create(&pd, &op, user_scratchpad, engine, fpd));
        if (good) {
            e->slots[0] = (slot){DNNL_ARG_SRC, 0, 1, usrc, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), NULL, 0, {0}};
            e->slots[1] = (slot){DNNL_ARG_DIFF_DST, 0, 1, udst, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0), NULL, 0, {0}};
            e->slots[2] = (slot){DNNL_ARG_DIFF_WEIGHTS, 1, 0, uwei, *p_dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0), NULL, 0, {0}};
        }
        break;
    }
    if (fpd) p_dnnl_primitive_desc_destroy(fpd);
    if (good) e->scratch_md = *p_dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    good = good && make_reorder(&e->slots[0]) && make_reorder(&e->slots[1]) && make_reorder(&e->slots[2])
        && ok(p_dnnl_primitive_create(&e->prim, pd));
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    if (!good) { free(e); return NULL; }
    return e;
}

static entry *lookup(enum kind kind, const bss_conv_shape *s, int bias, int post) {
    pthread_mutex_lock(&lock);
    entry *e = cache;
    while (e && !(e->kind == kind && e->bias == bias && e->post == post && memcmp(&e->shape, s, sizeof *s) == 0)) e = e->next;
    if (!e) {
        // A shape oneDNN cannot take is remembered too (prim NULL), so it is not retried per call.
        e = create(kind, s, bias, post);
        if (!e && (e = calloc(1, sizeof *e))) { e->kind = kind; e->shape = *s; e->bias = bias; e->post = post; }
        if (e) { e->next = cache; cache = e; }
    }
    pthread_mutex_unlock(&lock);
    return e && e->prim ? e : NULL;
}

// Executes `p` with `args` (room for one more) and, when it needs one, a scratchpad `md` in this
// thread's scratch buffer.
static int execute(dnnl_primitive_t p, dnnl_exec_arg_t *args, int n, const dnnl_memory_desc_t *md) {
    size_t bytes = p_dnnl_memory_desc_get_size(md);
    dnnl_memory_t sm = NULL;
    if (bytes > 0) {
        float *buf = scratch_for(3, bytes);
        if (!buf || !ok(p_dnnl_memory_create(&sm, md, engine, buf))) return 0;
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, sm};
    }
    int good = ok(p_dnnl_primitive_execute(p, thread_stream, n, args));
    // (the stream is in-order and executes on this thread, so the scratchpad is free after this)
    good = good && ok(p_dnnl_stream_wait(thread_stream));
    if (sm) p_dnnl_memory_destroy(sm);
    return good;
}

static int exec2(const slot *sl, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return execute(sl->reorder, args, 2, &sl->reorder_scratch);
}

// Runs entry `e` on user buffers `user[3]` (+ bias) for `count` consecutive mini-batches
// (`stride[i]` floats apart for batched slots). Unbatched inputs (weights) are reordered once.
static int run(entry *e, float *user[3], const size_t stride[3], int count, float *bias) {
    if (p_omp_set_num_threads) p_omp_set_num_threads(1);
    if (!thread_stream && !ok(p_dnnl_stream_create(&thread_stream, engine, dnnl_stream_default_flags))) return -1;
    dnnl_memory_t um[3] = {0}, pm[3] = {0}, bm = NULL;
    int good = 1;
    for (int i = 0; i < 3 && good; i++) {
        slot *sl = &e->slots[i];
        good = ok(p_dnnl_memory_create(&um[i], &sl->user, engine, user[i]));
        if (good && sl->reorder) {
            float *buf = scratch_for(i, sl->bytes);
            good = buf && ok(p_dnnl_memory_create(&pm[i], &sl->prim, engine, buf));
        }
    }
    if (good && bias) good = ok(p_dnnl_memory_create(&bm, &e->bias_md, engine, bias));
    for (int i = 0; i < 3 && good; i++)  // unbatched inputs: once
        if (!e->slots[i].batched && !e->slots[i].output && e->slots[i].reorder)
            good = exec2(&e->slots[i], um[i], pm[i]);
    for (int b = 0; b < count && good; b++) {
        if (b > 0) {
            // (the memory objects of batched slots move on to the next sample)
            for (int i = 0; i < 3 && good; i++) {
                if (e->slots[i].batched) good = ok(p_dnnl_memory_set_data_handle(um[i], user[i] + (size_t)b * stride[i]));
            }
        }
        for (int i = 0; i < 3 && good; i++)
            if (e->slots[i].batched && !e->slots[i].output && e->slots[i].reorder)
                good = exec2(&e->slots[i], um[i], pm[i]);
        if (!good) break;
        dnnl_exec_arg_t args[5];
        int n = 0;
        for (int i = 0; i < 3; i++) args[n++] = (dnnl_exec_arg_t){e->slots[i].arg, pm[i] ? pm[i] : um[i]};
        if (bm) args[n++] = (dnnl_exec_arg_t){e->kind == BWD_WEIGHTS ? DNNL_ARG_DIFF_BIAS : DNNL_ARG_BIAS, bm};
        good = execute(e->prim, args, n, &e->scratch_md);
        for (int i = 0; i < 3 && good; i++)
            if (e->slots[i].output && e->slots[i].reorder)
                good = exec2(&e->slots[i], pm[i], um[i]);
    }
    good = good && ok(p_dnnl_stream_wait(thread_stream));
    for (int i = 0; i < 3; i++) {
        if (um[i]) p_dnnl_memory_destroy(um[i]);
        if (pm[i]) p_dnnl_memory_destroy(pm[i]);
    }
    if (bm) p_dnnl_memory_destroy(bm);
    return good ? 0 : -1;
}

static size_t in_size(const bss_conv_shape *s) { return (size_t)s->c * s->h * s->w; }
static size_t out_floats(const bss_conv_shape *s) { int oh, ow; out_size(s, &oh, &ow); return (size_t)s->o * oh * ow; }

// The inference primitive for groups of BSS_DNNL_GROUP samples of shape `one` (mini-batch 1),
// or NULL when oneDNN refuses it or it does not reproduce `single`'s bits. Checked once per
// shape: GROUP samples of fixed pseudo-random data through both primitives, compared bit for
// bit (a different kernel or blocking for the larger mini-batch would round differently).
// oneDNN does not promise this equality, so it is measured rather than assumed.
static int groups_passed, groups_failed;  // (under `lock`)
static int grouping = 1;                  // 0 with BSS_DNNL_GROUPS=off (set at load)

void bss_dnnl_group_counts(int *passed, int *failed) {
    pthread_mutex_lock(&lock);
    *passed = groups_passed;
    *failed = groups_failed;
    pthread_mutex_unlock(&lock);
}

static entry *grouped(const bss_conv_shape *one, int bias, int post, entry *single) {
    bss_conv_shape gs = *one;
    gs.n = BSS_DNNL_GROUP;
    entry *e = lookup(FWD_INFERENCE, &gs, bias, post);
    if (!e) return NULL;
    pthread_mutex_lock(&lock);
    int state = e->group_check;
    pthread_mutex_unlock(&lock);
    if (state == 0) {
        size_t nx = BSS_DNNL_GROUP * in_size(one), ny = BSS_DNNL_GROUP * out_floats(one);
        size_t nw = (size_t)one->o * (one->c / (one->g > 1 ? one->g : 1)) * one->kh * one->kw;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)one->o * 4), *y1 = malloc(ny * 4), *yg = malloc(ny * 4);
        int same = x && w && b && y1 && yg;
        if (same) {
            unsigned r = 12345;
            for (size_t i = 0; i < nx; i++) { r = r * 1664525u + 1013904223u; x[i] = (float)(r >> 8) / 16777216.0f * 2 - 1; }
            for (size_t i = 0; i < nw; i++) { r = r * 1664525u + 1013904223u; w[i] = ((float)(r >> 8) / 16777216.0f * 2 - 1) / 8; }
            for (int i = 0; i < one->o; i++) b[i] = 0.125f * (i % 5) - 0.25f;
            float *u1[3] = {x, w, y1}, *ug[3] = {x, w, yg};
            size_t st1[3] = {in_size(one), 0, out_floats(one)}, stg[3] = {nx, 0, ny};
            same = run(single, u1, st1, BSS_DNNL_GROUP, bias ? b : NULL) == 0 && run(e, ug, stg, 1, bias ? b : NULL) == 0
                && memcmp(y1, yg, ny * 4) == 0;
        }
        free(x); free(w); free(b); free(y1); free(yg);
        state = same ? 1 : 2;
        pthread_mutex_lock(&lock);
        if (e->group_check == 0) {
            e->group_check = state;
            if (same) groups_passed++; else groups_failed++;
        }
        pthread_mutex_unlock(&lock);
    }
    return state == 1 ? e : NULL;
}

int bss_dnnl_conv_forward(const bss_conv_shape *s, int per_sample, const float *x, const float *w, const float *b,
                          int activation, float *y) {
    if (loaded != 1 || activation < 0 || activation > 2) return -1;
    size_t sx = in_size(s), sy = out_floats(s);
    if (!per_sample) {
        entry *e = lookup(FWD_TRAINING, s, b != NULL, activation);
        if (!e) return -1;
        float *user[3] = {(float *)x, (float *)w, y};
        size_t stride[3] = {sx, 0, sy};
        return run(e, user, stride, 1, (float *)b);
    }
    // Inference: full groups through the checked group primitive, the rest one sample per call;
    // either way every sample gets the mini-batch-1 primitive's bits.
    bss_conv_shape one = *s;
    one.n = 1;
    entry *single = lookup(FWD_INFERENCE, &one, b != NULL, activation);
    if (!single) return -1;
    int done = 0, groups = grouping ? s->n / BSS_DNNL_GROUP : 0;
    entry *g = groups > 0 ? grouped(&one, b != NULL, activation, single) : NULL;
    if (g) {
        float *user[3] = {(float *)x, (float *)w, y};
        size_t stride[3] = {sx * BSS_DNNL_GROUP, 0, sy * BSS_DNNL_GROUP};
        if (run(g, user, stride, groups, (float *)b) != 0) return -1;
        done = groups * BSS_DNNL_GROUP;
    }
    if (done == s->n) return 0;
    float *user[3] = {(float *)x + done * sx, (float *)w, y + done * sy};
    size_t stride[3] = {sx, 0, sy};
    return run(single, user, stride, s->n - done, (float *)b);
}

int bss_dnnl_conv_backward_data(const bss_conv_shape *s, int per_sample, const float *dy, const float *w, float *dx) {
    if (loaded != 1) return -1;
    bss_conv_shape one = *s;
    if (per_sample) one.n = 1;
    entry *e = lookup(BWD_DATA, &one, 0, 0);
    if (!e) return -1;
    float *user[3] = {(float *)dy, (float *)w, dx};
    size_t stride[3] = {out_floats(s), 0, in_size(s)};
    return run(e, user, stride, per_sample ? s->n : 1, NULL);
}

int bss_dnnl_conv_backward_weights(const bss_conv_shape *s, const float *x, const float *dy, float *dw, float *db) {
    if (loaded != 1) return -1;
    entry *e = lookup(BWD_WEIGHTS, s, db != NULL, 0);
    if (!e) return -1;
    float *user[3] = {(float *)x, (float *)dy, dw};
    size_t stride[3] = {0, 0, 0};
    return run(e, user, stride, 1, db);
}

// The load check: one odd-shaped convolution (asymmetric padding, stride, dilation) forward,
// backward-data and backward-weights against plain loops, as the OpenBLAS loader checks a GEMM.
static int self_check(void) {
    bss_conv_shape s = {3, 5, 7, 6, 4, 3, 2, 2, 1, 1, 0, 2, 1, 1, 2};
    int oh, ow;
    out_size(&s, &oh, &ow);
    size_t nx = (size_t)s.n * in_size(&s), ny = (size_t)s.n * out_floats(&s), nw = (size_t)s.o * s.c * s.kh * s.kw;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(s.o * 4), *y = malloc(ny * 4), *dx = malloc(nx * 4),
          *dw = malloc(nw * 4), *db = malloc(s.o * 4);
    double *ry = calloc(ny, 8), *rdx = calloc(nx, 8), *rdw = calloc(nw, 8), *rdb = calloc(s.o, 8);
    for (size_t i = 0; i < nx; i++) x[i] = (float)((int)(i * 37 % 17) - 8) / 8;
    for (size_t i = 0; i < nw; i++) w[i] = (float)((int)(i * 11 % 13) - 6) / 6;
    for (int i = 0; i < s.o; i++) b[i] = 0.25f * i - 0.5f;
    // Reference: y = conv(x) + b; with dy := y, dx and dw as the gradients of ½‖y‖².
    for (int n = 0; n < s.n; n++) for (int o = 0; o < s.o; o++) for (int i = 0; i < oh; i++) for (int j = 0; j < ow; j++) {
        double acc = b[o];
        for (int c = 0; c < s.c; c++) for (int ki = 0; ki < s.kh; ki++) for (int kj = 0; kj < s.kw; kj++) {
            int yy = i * s.sh - s.pt + ki * s.dh, xx = j * s.sw - s.pl + kj * s.dw;
            if (yy < 0 || yy >= s.h || xx < 0 || xx >= s.w) continue;
            acc += (double)w[((o * s.c + c) * s.kh + ki) * s.kw + kj] * x[((n * s.c + c) * s.h + yy) * s.w + xx];
        }
        ry[((n * s.o + o) * oh + i) * ow + j] = acc;
    }
    // The fused ReLU and ReLU6 post-ops (per sample, as inference runs it), then the plain forward.
    int good = bss_dnnl_conv_forward(&s, 1, x, w, b, 1, y) == 0;
    for (size_t i = 0; good && i < ny; i++) good = fabs(y[i] - fmax(ry[i], 0)) <= 1e-4 * (1 + fabs(ry[i]));
    good = good && bss_dnnl_conv_forward(&s, 1, x, w, b, BSS_DNNL_RELU6, y) == 0;
    for (size_t i = 0; good && i < ny; i++) good = fabs(y[i] - fmin(fmax(ry[i], 0), 6)) <= 1e-4 * (1 + fabs(ry[i]));
    good = good && bss_dnnl_conv_forward(&s, 0, x, w, b, 0, y) == 0;
    for (size_t i = 0; good && i < ny; i++) good = fabs(y[i] - ry[i]) <= 1e-4 * (1 + fabs(ry[i]));
    for (size_t i = 0; i < ny; i++) y[i] = (float)ry[i];
    for (int n = 0; n < s.n; n++) for (int o = 0; o < s.o; o++) for (int i = 0; i < oh; i++) for (int j = 0; j < ow; j++) {
        double g = y[((n * s.o + o) * oh + i) * ow + j];
        rdb[o] += g;
        for (int c = 0; c < s.c; c++) for (int ki = 0; ki < s.kh; ki++) for (int kj = 0; kj < s.kw; kj++) {
            int yy = i * s.sh - s.pt + ki * s.dh, xx = j * s.sw - s.pl + kj * s.dw;
            if (yy < 0 || yy >= s.h || xx < 0 || xx >= s.w) continue;
            size_t wi = ((o * s.c + c) * s.kh + ki) * s.kw + kj, xi = ((n * s.c + c) * s.h + yy) * s.w + xx;
            rdx[xi] += g * w[wi];
            rdw[wi] += g * x[xi];
        }
    }
    good = good && bss_dnnl_conv_backward_data(&s, 1, y, w, dx) == 0;
    for (size_t i = 0; good && i < nx; i++) good = fabs(dx[i] - rdx[i]) <= 1e-4 * (1 + fabs(rdx[i]));
    good = good && bss_dnnl_conv_backward_weights(&s, x, y, dw, db) == 0;
    for (size_t i = 0; good && i < nw; i++) good = fabs(dw[i] - rdw[i]) <= 1e-3 * (1 + fabs(rdw[i]));
    for (int i = 0; good && i < s.o; i++) good = fabs(db[i] - rdb[i]) <= 1e-3 * (1 + fabs(rdb[i]));
    free(x); free(w); free(b); free(y); free(dx); free(dw); free(db); free(ry); free(rdx); free(rdw); free(rdb);
    return good;
}

// Attributes for the fused forward: our scratchpad and one activation post-op, ReLU (alpha 0:
// max(x, 0)) or ReLU6 (clip to [alpha, beta] = [0, 6]: min(max(x, 0), 6)).
static int make_post_attr(dnnl_primitive_attr_t *attr, dnnl_alg_kind_t alg, float alpha, float beta) {
    dnnl_post_ops_t ops;
    if (!ok(p_dnnl_post_ops_create(&ops))) return 0;
    int good = ok(p_dnnl_post_ops_append_eltwise(ops, 1.0f, alg, alpha, beta))
        && ok(p_dnnl_primitive_attr_create(attr))
        && ok(p_dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user))
        && ok(p_dnnl_primitive_attr_set_post_ops(*attr, ops));
    p_dnnl_post_ops_destroy(ops);
    return good;
}

int bss_dnnl_load(void) {
    pthread_mutex_lock(&lock);
    if (loaded >= 0) { pthread_mutex_unlock(&lock); return loaded; }
    loaded = 0;
    const char *g = getenv("BSS_DNNL_GROUPS");
    grouping = !(g && (strcmp(g, "off") == 0 || strcmp(g, "0") == 0));
    void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(message, sizeof message, "libdnnl.so.2 not found (Debian: libdnnl2)");
        pthread_mutex_unlock(&lock);
        return 0;
    }
    int missing = 0;
#define LOAD(name) do { p_##name = (__typeof__(name) *)dlsym(h, #name); if (!p_##name) missing = 1; } while (0)
    LOAD(dnnl_version); LOAD(dnnl_engine_create); LOAD(dnnl_stream_create); LOAD(dnnl_stream_wait);
    LOAD(dnnl_memory_desc_init_by_tag); LOAD(dnnl_memory_desc_equal); LOAD(dnnl_memory_desc_get_size);
    LOAD(dnnl_memory_create); LOAD(dnnl_memory_destroy); LOAD(dnnl_memory_set_data_handle); LOAD(dnnl_dilated_convolution_forward_desc_init);
    LOAD(dnnl_dilated_convolution_backward_data_desc_init); LOAD(dnnl_dilated_convolution_backward_weights_desc_init);
    LOAD(dnnl_primitive_desc_create); LOAD(dnnl_primitive_desc_destroy); LOAD(dnnl_primitive_desc_query_md);
    LOAD(dnnl_primitive_create); LOAD(dnnl_primitive_execute); LOAD(dnnl_reorder_primitive_desc_create);
    LOAD(dnnl_primitive_attr_create); LOAD(dnnl_primitive_attr_destroy); LOAD(dnnl_primitive_attr_set_scratchpad_mode);
    LOAD(dnnl_primitive_attr_set_post_ops); LOAD(dnnl_post_ops_create); LOAD(dnnl_post_ops_destroy);
    LOAD(dnnl_post_ops_append_eltwise);
    p_omp_set_num_threads = (void (*)(int))dlsym(h, "omp_set_num_threads");
    const dnnl_version_t *v = missing ? NULL : p_dnnl_version();
    if (!v || v->major != DNNL_VERSION_MAJOR) {
        snprintf(message, sizeof message, "libdnnl.so.2 is not a usable oneDNN %d.x", DNNL_VERSION_MAJOR);
    } else if (!ok(p_dnnl_engine_create(&engine, dnnl_cpu, 0)) || !ok(p_dnnl_primitive_attr_create(&user_scratchpad))
               || !ok(p_dnnl_primitive_attr_set_scratchpad_mode(user_scratchpad, dnnl_scratchpad_mode_user))
               || !(post_attr[BSS_DNNL_NONE] = user_scratchpad)
               || !make_post_attr(&post_attr[BSS_DNNL_RELU], dnnl_eltwise_relu, 0.0f, 0.0f)
               || !make_post_attr(&post_attr[BSS_DNNL_RELU6], dnnl_eltwise_clip, 0.0f, 6.0f)) {
        snprintf(message, sizeof message, "oneDNN %d.%d.%d: no CPU engine", v->major, v->minor, v->patch);
    } else {
        loaded = 1;
        pthread_mutex_unlock(&lock);  // (the check goes through the public calls, which take the lock)
        int good = self_check();
        pthread_mutex_lock(&lock);
        loaded = good;
        if (good) snprintf(message, sizeof message, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP build, one thread per call" : "one thread per call");
        else snprintf(message, sizeof message, "oneDNN %d.%d.%d failed its convolution check; not used", v->major, v->minor, v->patch);
    }
    pthread_mutex_unlock(&lock);
    return loaded;
}

#endif
