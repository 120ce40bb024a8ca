// CImageCodecs: JPEG (libjpeg) and PNG (libpng) decoding for bss data sets.
//
// Both libraries report fatal errors by longjmp-ing out of the failing call, which Swift
// cannot do; these C functions hold the setjmp and turn every failure into a return code
// and a message, so a damaged image is a one-line error and never an exit() or a crash.
#ifndef BSS_IMAGE_H
#define BSS_IMAGE_H

#include <stddef.h>

/// A decoded image: 8-bit samples, row-major, channels interleaved (HWC).
/// `channels` is 1 (grayscale) or 3 (RGB); `pixels` is malloc'd (free with bss_image_free).
typedef struct {
    unsigned char *pixels;
    int width;
    int height;
    int channels;
} bss_image;

/// Decodes a JPEG held in memory. Grayscale files stay one channel, colour ones become RGB
/// (libjpeg's defaults otherwise: islow IDCT, fancy upsampling). Corrupt-data warnings
/// (e.g. a truncated file, which libjpeg pads with grey) count as failures.
/// Images declaring more than `max_pixels` pixels (width x height) are refused after reading
/// the header and before allocating anything for the pixels (decompression bombs).
/// Returns 0, or -1 with a NUL-terminated message in `error` (at most `error_size` bytes).
int bss_decode_jpeg(const unsigned char *data, size_t size, size_t max_pixels, bss_image *out, char *error, size_t error_size);

/// Decodes an 8-bit-per-sample PNG held in memory: palette and low-bit-depth images are
/// expanded to 8 bits, gray stays one channel, colour becomes RGB. No gamma or colour-profile
/// conversion is applied (the stored values are returned). An alpha channel is accepted only
/// when every pixel is opaque (and then dropped); 16-bit images are refused.
/// `max_pixels` as for JPEG. Returns 0, or -1 with a message in `error`.
int bss_decode_png(const unsigned char *data, size_t size, size_t max_pixels, bss_image *out, char *error, size_t error_size);

void bss_image_free(bss_image *image);

#endif
