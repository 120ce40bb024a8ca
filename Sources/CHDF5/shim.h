// CHDF5: the HDF5 C API plus `static inline` helpers for what Swift cannot import.
//
// Swift cannot import HDF5's type/property-list "constants" (they are macros that call
// H5open() and read a global), the H5F_ACC_* flags, H5T_VARIABLE/H5S_UNLIMITED (negative
// casts), or the versioned macro names (H5Literate, H5Dvlen_reclaim, ...). Everything here
// is a thin accessor so the Swift side never hard-codes a value that differs between HDF5
// releases. See docs/formats.md, "HDF5".
#ifndef BSS_CHDF5_SHIM_H
#define BSS_CHDF5_SHIM_H

// pkg-config puts the serial headers on the include path; the explicit path is a fallback
// for Debian machines where the compiler is invoked without the pkg-config flags.
#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Predefined datatypes (memory/native)

static inline hid_t sh5_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t sh5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t sh5_native_int8(void)   { return H5T_NATIVE_INT8; }
static inline hid_t sh5_native_int16(void)  { return H5T_NATIVE_INT16; }
static inline hid_t sh5_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t sh5_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t sh5_native_uint8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t sh5_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t sh5_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t sh5_native_uint64(void) { return H5T_NATIVE_UINT64; }

// MARK: - Predefined datatypes (file, little-endian as numpy/h5py write them)

static inline hid_t sh5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t sh5_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t sh5_std_i8le(void)   { return H5T_STD_I8LE; }
static inline hid_t sh5_std_i16le(void)  { return H5T_STD_I16LE; }
static inline hid_t sh5_std_i32le(void)  { return H5T_STD_I32LE; }
static inline hid_t sh5_std_i64le(void)  { return H5T_STD_I64LE; }
static inline hid_t sh5_std_u8le(void)   { return H5T_STD_U8LE; }
static inline hid_t sh5_std_u16le(void)  { return H5T_STD_U16LE; }
static inline hid_t sh5_std_u32le(void)  { return H5T_STD_U32LE; }
static inline hid_t sh5_std_u64le(void)  { return H5T_STD_U64LE; }
static inline hid_t sh5_c_s1(void)       { return H5T_C_S1; }
static inline size_t sh5_variable(void)  { return H5T_VARIABLE; }

// MARK: - Flags, property-list classes, special ids

static inline unsigned sh5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned sh5_acc_rdwr(void)   { return H5F_ACC_RDWR; }
static inline unsigned sh5_acc_trunc(void)  { return H5F_ACC_TRUNC; }
static inline hid_t sh5_p_default(void)        { return H5P_DEFAULT; }
static inline hid_t sh5_p_file_access(void)    { return H5P_FILE_ACCESS; }
static inline hid_t sh5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t sh5_p_link_create(void)    { return H5P_LINK_CREATE; }
static inline hid_t sh5_p_group_create(void)   { return H5P_GROUP_CREATE; }
static inline hid_t sh5_p_file_create(void)    { return H5P_FILE_CREATE; }
static inline hid_t sh5_s_all(void)            { return H5S_ALL; }
static inline hid_t sh5_e_default(void)        { return H5E_DEFAULT; }
static inline hsize_t sh5_unlimited(void)      { return H5S_UNLIMITED; }

// MARK: - Errors

/// Turns off HDF5's automatic error-stack dump on stderr for the calling thread.
/// In thread-safe builds the setting is per thread, hence the thread-local flag: the first
/// HDF5 use on each thread silences it once. Failures still return negative values.
static inline void sh5_silence_errors_once(void) {
    static _Thread_local int done = 0;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

struct sh5__error_buffer { char *buf; size_t len; int found; };

static inline herr_t sh5__error_cb(unsigned n, const H5E_error2_t *err, void *op) {
    struct sh5__error_buffer *b = (struct sh5__error_buffer *)op;
    // Walking upward, the first entry is where the failure originated: the most specific text.
    if (!b->found && err && err->desc && err->desc[0]) {
        strncpy(b->buf, err->desc, b->len - 1);
        b->buf[b->len - 1] = 0;
        b->found = 1;
    }
    (void)n;
    return 0;
}

/// Copies the innermost message of the current thread's error stack into `buf` (empty when
/// the stack is empty) and clears the stack, so the next failure starts from a clean slate.
static inline void sh5_take_error_message(char *buf, size_t len) {
    if (!buf || len == 0) return;
    buf[0] = 0;
    struct sh5__error_buffer b = { buf, len, 0 };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, sh5__error_cb, &b);
    H5Eclear2(H5E_DEFAULT);
}

// MARK: - Name lists (children of a group, attributes of an object)

/// A growable list of NUL-terminated names packed back to back; `kinds[i]` is the object
/// kind of name i for link lists (see SH5_KIND_*), unused for attribute lists.
/// Filled in C so Swift needs no @convention(c) callbacks; release with sh5_names_free.
typedef struct {
    char *bytes;
    size_t used, capacity;
    int *kinds;
    size_t count, kinds_capacity;
} sh5_names;

enum { SH5_KIND_OTHER = 0, SH5_KIND_GROUP = 1, SH5_KIND_DATASET = 2,
       /// A hard link whose object this libhdf5 cannot open (a newer file format, or damage).
       SH5_KIND_UNREADABLE = 3 };

static inline void sh5_names_free(sh5_names *n) {
    if (!n) return;
    free(n->bytes);
    free(n->kinds);
    memset(n, 0, sizeof(*n));
}

static inline int sh5__names_append(sh5_names *n, const char *name, int kind) {
    size_t len = strlen(name) + 1;
    if (n->used + len > n->capacity) {
        size_t cap = n->capacity ? n->capacity : 256;
        while (n->used + len > cap) cap *= 2;
        char *grown = (char *)realloc(n->bytes, cap);
        if (!grown) return -1;
        n->bytes = grown;
        n->capacity = cap;
    }
    if (n->count + 1 > n->kinds_capacity) {
        size_t cap = n->kinds_capacity ? n->kinds_capacity * 2 : 16;
        int *grown = (int *)realloc(n->kinds, cap * sizeof(int));
        if (!grown) return -1;
        n->kinds = grown;
        n->kinds_capacity = cap;
    }
    memcpy(n->bytes + n->used, name, len);
    n->used += len;
    n->kinds[n->count++] = kind;
    return 0;
}

/// The kind of the object at `path` (following soft links): SH5_KIND_GROUP/DATASET/OTHER,
/// or -1 when it cannot be opened. Uses H5Oopen + H5Iget_type because H5Oget_info* changed
/// arity between 1.10 and 1.12, while these two did not.
static inline int sh5_object_kind(hid_t loc, const char *path) {
    hid_t obj = H5Oopen(loc, path, H5P_DEFAULT);
    if (obj < 0) return -1;
    H5I_type_t t = H5Iget_type(obj);
    H5Oclose(obj);
    if (t == H5I_GROUP) return SH5_KIND_GROUP;
    if (t == H5I_DATASET) return SH5_KIND_DATASET;
    return SH5_KIND_OTHER;
}

static inline herr_t sh5__link_cb(hid_t group, const char *name, const H5L_info_t *info, void *op) {
    (void)info;
    int kind = sh5_object_kind(group, name);
    // A dangling soft/external link cannot be opened; list it as "other" rather than fail.
    // A hard link always names an object: one that cannot be opened is reported, not hidden.
    if (kind < 0) {
        H5Eclear2(H5E_DEFAULT);
        kind = (info != NULL && info->type == H5L_TYPE_HARD) ? SH5_KIND_UNREADABLE : SH5_KIND_OTHER;
    }
    return sh5__names_append((sh5_names *)op, name, kind) < 0 ? -1 : 0;
}

/// Collects the direct links of group `group_path` (relative to `loc`) in name order
/// (byte-wise, as HDF5's name index sorts). `H5Literate_by_name` is a macro in 1.12+ that
/// maps to the right version, so calling it from C stays portable.
static inline herr_t sh5_list_links(hid_t loc, const char *group_path, sh5_names *out) {
    hsize_t idx = 0;
    return H5Literate_by_name(loc, group_path, H5_INDEX_NAME, H5_ITER_INC, &idx,
                              sh5__link_cb, out, H5P_DEFAULT);
}

static inline herr_t sh5__attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *op) {
    (void)loc; (void)info;
    return sh5__names_append((sh5_names *)op, name, SH5_KIND_OTHER) < 0 ? -1 : 0;
}

/// Collects the attribute names of the object at `obj_path` in name order.
static inline herr_t sh5_list_attributes(hid_t loc, const char *obj_path, sh5_names *out) {
    hsize_t idx = 0;
    return H5Aiterate_by_name(loc, obj_path, H5_INDEX_NAME, H5_ITER_INC, &idx,
                              sh5__attr_cb, out, H5P_DEFAULT);
}

/// The superblock version of an open file (0/1: any HDF5; 2: 1.8 and later; 3: 1.10 and
/// later, what h5py's libver="latest" writes), or -1.
static inline int sh5_superblock_version(hid_t file) {
    H5F_info2_t info;
    if (H5Fget_info2(file, &info) < 0) { H5Eclear2(H5E_DEFAULT); return -1; }
    return (int)info.super.version;
}

/// The version of the libhdf5 in use, as "1.10.8".
static inline void sh5_library_version(unsigned *major, unsigned *minor, unsigned *release) {
    H5get_libversion(major, minor, release);
}

// MARK: - Version differences

/// Frees the variable-length strings HDF5 allocated during a read (renamed in 1.12).
static inline herr_t sh5_reclaim(hid_t type, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

/// An IEEE half-precision little-endian file type. HDF5 < 1.14.4 has no predefined one;
/// this layout is what h5py writes for numpy float16 (docs/formats.md, "HDF5"). Caller closes it.
static inline hid_t sh5_make_f16le(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_precision(t, 16) < 0 ||
        H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0 || H5Tset_offset(t, 0) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

// MARK: - Refusing data outside the file

/// What `sh5_check_self_contained` found: the first link or dataset (path `path`) whose data
/// live outside the file or cannot be verified, and a detail (target file, filter name).
typedef struct {
    int problem;
    char path[1024];
    char detail[1024];
    int filter;
} sh5_containment;

enum {
    SH5_CONTAINED = 0,
    SH5_EXTERNAL_LINK = 1,      // H5L_TYPE_EXTERNAL: a link into another file
    SH5_USER_LINK = 2,          // a user-defined link class: cannot tell where it leads
    SH5_EXTERNAL_STORAGE = 3,   // H5Pset_external: raw data in other files
    SH5_VIRTUAL = 4,            // H5D_VIRTUAL: data mapped from other datasets/files
    SH5_FILTER = 5              // a filter other than deflate, shuffle, fletcher32
};

static inline herr_t sh5__containment_cb(hid_t group, const char *name, const H5L_info_t *info, void *op) {
    sh5_containment *c = (sh5_containment *)op;
    strncpy(c->path, name, sizeof(c->path) - 1);
    if (info->type == H5L_TYPE_SOFT) return 0;   // a path inside this file; visited as its target
    if (info->type == H5L_TYPE_EXTERNAL) {
        c->problem = SH5_EXTERNAL_LINK;
        char value[1024];
        const char *file = NULL, *object = NULL;
        unsigned flags = 0;
        if (info->u.val_size <= sizeof(value) &&
            H5Lget_val(group, name, value, sizeof(value), H5P_DEFAULT) >= 0 &&
            H5Lunpack_elink_val(value, info->u.val_size, &flags, &file, &object) >= 0 && file && object) {
            snprintf(c->detail, sizeof(c->detail), "%s:%s", file, object);
        }
        return 1;
    }
    if (info->type != H5L_TYPE_HARD) { c->problem = SH5_USER_LINK; return 1; }
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) { H5Eclear2(H5E_DEFAULT); return 0; }   // unreadable: the access that needs it reports it
    if (H5Iget_type(obj) == H5I_DATASET) {
        hid_t dcpl = H5Dget_create_plist(obj);
        if (dcpl >= 0) {
            if (H5Pget_external_count(dcpl) > 0) {
                c->problem = SH5_EXTERNAL_STORAGE;
                off_t offset = 0;
                hsize_t size = 0;
                if (H5Pget_external(dcpl, 0, sizeof(c->detail) - 1, c->detail, &offset, &size) < 0) c->detail[0] = 0;
            } else if (H5Pget_layout(dcpl) == H5D_VIRTUAL) {
                c->problem = SH5_VIRTUAL;
                size_t count = 0;
                if (H5Pget_virtual_count(dcpl, &count) < 0 || count == 0 ||
                    H5Pget_virtual_filename(dcpl, 0, c->detail, sizeof(c->detail) - 1) < 0) c->detail[0] = 0;
            } else {
                int n = H5Pget_nfilters(dcpl);
                for (int i = 0; i < n; i++) {
                    unsigned flags = 0, config = 0;
                    size_t count = 0;
                    char label[256] = {0};
                    H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &count, NULL, sizeof(label) - 1, label, &config);
                    if (f != H5Z_FILTER_DEFLATE && f != H5Z_FILTER_SHUFFLE && f != H5Z_FILTER_FLETCHER32) {
                        c->problem = SH5_FILTER;
                        c->filter = (int)f;
                        strncpy(c->detail, label, sizeof(c->detail) - 1);
                        break;
                    }
                }
            }
            H5Pclose(dcpl);
        }
    }
    H5Oclose(obj);
    return c->problem ? 1 : 0;
}

/// Visits every link reachable through hard links from the root (H5Lvisit never follows soft
/// or external links, and visits each group once) and stops at the first problem.
/// Returns < 0 if the walk itself failed.
static inline herr_t sh5_check_self_contained(hid_t file, sh5_containment *out) {
    memset(out, 0, sizeof(*out));
    herr_t r = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, sh5__containment_cb, out);
    if (out->problem == SH5_CONTAINED) out->path[0] = 0;
    return out->problem ? 0 : r;
}

#endif
